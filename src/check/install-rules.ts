// Install checks: is the webhook registered, reachable, trusted by the API
// server, guarded, and consistent with itself?
import { X509Certificate } from 'node:crypto';
import { finding, type Finding, type ObjectRef } from './findings.js';
import { findService, GUARD_POLICY_NAME, imageTag, sameEndpointGroups, type InstallView } from './webhook-install.js';
import type { Snapshot, WebhookProbe } from './snapshot.js';

const DAY_MS = 86_400_000;
/** cert-manager renews at 2/3 of the lifetime (30 days before the end of a 90-day certificate). */
export const EXPIRY_WARNING_DAYS = 30;

export function installRules(snapshot: Snapshot, install: InstallView): Finding[] {
  const out: Finding[] = [];
  if (install.webhooks.length === 0) {
    out.push(
      finding(
        'WSD101',
        { kind: 'MutatingWebhookConfiguration', name: 'ws-drain' },
        'no MutatingWebhookConfiguration has a webhook named *.ws-drain.io: no pod is injected, opted-in pods terminate with their own grace period',
        'install ws-drain: kubectl apply -k manifests/base (see README, Install)',
      ),
    );
  }
  let anyIgnore = false;
  for (const { config, webhook } of install.webhooks) {
    const ref: ObjectRef = { kind: 'MutatingWebhookConfiguration', name: config.metadata.name };
    const label = `webhook ${webhook.name}`;
    // admissionregistration.k8s.io/v1 defaults failurePolicy to Fail.
    const failurePolicy = webhook.failurePolicy ?? 'Fail';
    if (failurePolicy === 'Ignore') anyIgnore = true;
    else {
      out.push(
        finding(
          'WSD110',
          ref,
          `${label} has failurePolicy: ${failurePolicy}: while the webhook is unreachable, opted-in pods cannot be created${
            (webhook.matchConditions ?? []).length > 0
              ? ' (pods its matchConditions do not send are not affected)'
              : ', and with no matchConditions neither can any other pod the rules and selectors match'
          }`,
          'keep it if un-drained pods are worse than blocked rollouts; otherwise use failurePolicy: Ignore with the guard policy (manifests/base)',
        ),
      );
    }
  }

  // Entries that call the same endpoint (one per way of opting in) are checked once, named together.
  for (const { config, webhook, names } of sameEndpointGroups(install.webhooks)) {
    const ref: ObjectRef = { kind: 'MutatingWebhookConfiguration', name: config.metadata.name };
    const label = `webhook ${names.join(', ')}`;
    const failurePolicy = webhook.failurePolicy ?? 'Fail';

    let serviceReady = true;
    const svcRef = webhook.clientConfig.service;
    if (svcRef) {
      const service = findService(snapshot, svcRef.namespace, svcRef.name);
      const serviceObj: ObjectRef = { kind: 'Service', namespace: svcRef.namespace, name: svcRef.name };
      if (!service) {
        serviceReady = false;
        out.push(
          finding('WSD102', serviceObj, `${label} (${config.metadata.name}) calls Service ${svcRef.namespace}/${svcRef.name}, which does not exist`, `create the Service (manifests/base/service.yaml) or fix clientConfig.service in ${config.metadata.name}`),
        );
      } else {
        const ready = readyEndpoints(snapshot, svcRef.namespace, svcRef.name);
        if (ready === 0) {
          serviceReady = false;
          out.push(
            finding(
              'WSD103',
              serviceObj,
              `Service ${svcRef.namespace}/${svcRef.name} has no ready endpoints: the API server cannot call ${label} (failurePolicy ${failurePolicy}: ${failurePolicy === 'Ignore' ? 'opted-in pods are created un-injected' : 'opted-in pods are refused'})`,
              `kubectl -n ${svcRef.namespace} get pods,endpointslices -l kubernetes.io/service-name=${svcRef.name}; check the webhook pods' readiness and logs`,
            ),
          );
        }
      }
    }

    const caPems = caBundleCertificates(webhook.clientConfig.caBundle);
    if (caPems.length === 0) {
      out.push(
        finding(
          'WSD105',
          ref,
          `${label} has ${webhook.clientConfig.caBundle ? 'a caBundle with no readable PEM certificate' : 'no caBundle'}: the API server cannot verify the webhook (with cert-manager, cainjector fills it from the annotation cert-manager.io/inject-ca-from)`,
          'check that cert-manager and its cainjector run and that the Certificate ws-drain-system/ws-drain-webhook is Ready',
        ),
      );
    }
    for (const ca of caPems) {
      const expiry = expiryFinding(ref, `CA certificate ${ca.subject} in the caBundle of ${label}`, ca.validTo, snapshot.now);
      if (expiry) out.push(expiry);
    }

    const probe = snapshot.probes.find((p) => p.configName === config.metadata.name && p.webhookName === webhook.name);
    if (probe) out.push(...probeFindings(ref, label, probe, serviceReady, caPems.length > 0, snapshot.now));
  }

  if (install.webhooks.length > 0) out.push(...guardFindings(snapshot, anyIgnore));


  const helperTag = imageTag(install.configSource.config.helperImage);
  if (install.deployment && install.webhookVersion && helperTag && helperTag !== install.webhookVersion) {
    const d = install.deployment;
    out.push(
      finding(
        'WSD111',
        { kind: 'Deployment', namespace: d.metadata.namespace, name: d.metadata.name },
        `the webhook image is version ${install.webhookVersion} but it injects helper image ${install.configSource.config.helperImage} (version ${helperTag}): the helper's flags may not match what this webhook writes`,
        'set WS_DRAIN_HELPER_IMAGE to the helper image of the same version (kustomize images: in manifests/base/kustomization.yaml)',
      ),
    );
  }
  return out;
}

function readyEndpoints(snapshot: Snapshot, namespace: string, service: string): number {
  let ready = 0;
  for (const slice of snapshot.endpointSlices) {
    if (slice.metadata.namespace !== namespace || slice.metadata.labels?.['kubernetes.io/service-name'] !== service) continue;
    // A nil ready condition means "unknown", which consumers treat as ready.
    for (const e of slice.endpoints ?? []) if (e.conditions?.ready !== false) ready += e.addresses.length;
  }
  return ready;
}

interface CaCert {
  subject: string;
  validTo: Date;
}

function caBundleCertificates(caBundle: string | null | undefined): CaCert[] {
  if (!caBundle) return [];
  const pem = Buffer.from(caBundle, 'base64').toString('utf8');
  const out: CaCert[] = [];
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      const cert = new X509Certificate(block);
      out.push({ subject: cert.subject.replace(/\n/g, ', '), validTo: new Date(cert.validTo) });
    } catch {
      // An unparsable block verifies nothing; counted by its absence.
    }
  }
  return out;
}

function expiryFinding(ref: ObjectRef, what: string, validTo: Date, now: Date): Finding | undefined {
  const days = Math.floor((validTo.getTime() - now.getTime()) / DAY_MS);
  if (validTo.getTime() <= now.getTime()) {
    return finding('WSD106', ref, `${what} expired on ${validTo.toISOString()}: the API server refuses the webhook`, 'renew it (cert-manager: kubectl -n ws-drain-system describe certificate ws-drain-webhook; cmctl renew)', 'error');
  }
  if (days < EXPIRY_WARNING_DAYS) {
    return finding('WSD106', ref, `${what} expires on ${validTo.toISOString()} (in ${days} days)`, 'check that renewal works (cert-manager renews 30 days before expiry by default: kubectl -n ws-drain-system describe certificate ws-drain-webhook)');
  }
  return undefined;
}

function probeFindings(ref: ObjectRef, label: string, probe: WebhookProbe, serviceReady: boolean, hasCa: boolean, now: Date): Finding[] {
  const out: Finding[] = [];
  if (probe.method === 'none') {
    // No endpoints already explains an unreachable Service.
    if (serviceReady) {
      out.push(finding('WSD104', ref, `${label} at ${probe.serverName} does not answer: ${probe.errors.join('; ')}`, 'check the webhook pods, their logs and NetworkPolicies between the API server and the webhook'));
    }
    return out;
  }
  if (probe.method === 'service-proxy') {
    if (probe.proxyStatus !== 200) {
      // A missing Service or one without endpoints is already reported, with its cause.
      if (!serviceReady) return out;
      out.push(finding('WSD104', ref, `${label}: GET /readyz through the API server's service proxy answered ${probe.proxyStatus ?? 'nothing'}`, 'check the webhook pods and their logs'));
    } else {
      out.push(
        finding(
          'WSD107',
          ref,
          `${label} answers through the API server's service proxy (${probe.target}), but ${probe.serverName} is not reachable directly from here (${probe.errors.join('; ')}), so the certificate it serves was not checked against the caBundle`,
          'run check from inside the cluster (a pod, or a node) to verify the served certificate',
        ),
      );
    }
    return out;
  }
  if (probe.verified === false && hasCa) {
    out.push(
      finding(
        'WSD105',
        ref,
        `the caBundle of ${label} does not verify the certificate served at ${probe.target} for ${probe.serverName}: ${probe.verifyError ?? 'unknown reason'}${probe.served ? ` (served: subject ${probe.served.subject}, issuer ${probe.served.issuer})` : ''}`,
        'the caBundle must hold the CA that signed the serving certificate, and the certificate must name the host the API server calls; with cert-manager check the inject-ca-from annotation and the Certificate\'s dnsNames',
      ),
    );
  }
  if (probe.served) {
    const e = expiryFinding(ref, `the serving certificate of ${label} (${probe.served.subject})`, new Date(probe.served.validTo), now);
    if (e) out.push(e);
  }
  return out;
}

function guardFindings(snapshot: Snapshot, anyIgnore: boolean): Finding[] {
  const out: Finding[] = [];
  const consequence = anyIgnore
    ? 'with failurePolicy: Ignore, opted-in pods created while the webhook is down run without a drain, silently'
    : 'opted-in pods created while the webhook was bypassed are not refused';
  const policy = snapshot.policies.find((p) => p.metadata.name === GUARD_POLICY_NAME);
  if (!policy) {
    out.push(
      finding('WSD108', { kind: 'ValidatingAdmissionPolicy', name: GUARD_POLICY_NAME }, `the guard policy ${GUARD_POLICY_NAME} is missing: ${consequence}`, 'apply manifests/base/validating-admission-policy.yaml (needs Kubernetes 1.30+)', anyIgnore ? 'error' : 'warning'),
    );
    return out;
  }
  const bindings = snapshot.policyBindings.filter((b) => b.spec?.policyName === GUARD_POLICY_NAME);
  if (!bindings.some((b) => (b.spec?.validationActions ?? []).includes('Deny'))) {
    const why = bindings.length === 0 ? 'has no ValidatingAdmissionPolicyBinding' : `is bound only with validationActions ${bindings.map((b) => JSON.stringify(b.spec?.validationActions ?? [])).join(', ')}`;
    out.push(
      finding('WSD109', { kind: 'ValidatingAdmissionPolicyBinding', name: bindings[0]?.metadata.name ?? GUARD_POLICY_NAME }, `the guard policy ${GUARD_POLICY_NAME} ${why}, so it refuses nothing: ${consequence}`, 'apply the binding in manifests/base/validating-admission-policy.yaml (validationActions: [Deny])', anyIgnore ? 'error' : 'warning'),
    );
  }
  return out;
}

