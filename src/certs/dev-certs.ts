// Development certificates: a throw-away CA and a serving certificate signed by
// it, so the webhook can speak TLS locally and in tests. In a cluster,
// cert-manager issues the real ones (see certs/README.md).
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { makeDirectory } from '../files/safe-fs.js';
import { DEV_CERT_FILES } from './dev-cert-files.js';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const EC_KEY: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface DevCertPems {
  caCert: string;
  caKey: string;
  tlsCert: string;
  tlsKey: string;
}

export interface DevCertOptions {
  /** DNS names and IP addresses for the serving certificate's SANs; 127.0.0.1 is always added. */
  hosts: string[];
  /** Validity of both certificates, in days. */
  days?: number;
  /** Common name of the serving certificate (defaults to the first DNS host). */
  commonName?: string;
}

/** A SAN entry for each host: IP literals become IP SANs, everything else DNS SANs. */
export function subjectAltNames(hosts: string[]): x509.JsonGeneralNames {
  const unique = [...new Set(['127.0.0.1', ...hosts.map((h) => h.trim()).filter((h) => h !== '')])];
  return unique.map((h) => ({ type: isIP(h) ? 'ip' : 'dns', value: h }) as x509.JsonGeneralName);
}

/** Throws a clear error for a host that can be neither a DNS name nor an IP. */
export function validateHosts(hosts: string[]): void {
  const dnsName = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
  for (const h of hosts) {
    const t = h.trim();
    if (t === '') continue;
    if (isIP(t) === 0 && !dnsName.test(t)) {
      throw new Error(`--hosts: "${t}" is neither a DNS name nor an IP address (expected e.g. localhost,ws-drain.ws-drain.svc,127.0.0.1)`);
    }
  }
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function generateDevCerts(opts: DevCertOptions): Promise<DevCertPems> {
  validateHosts(opts.hosts);
  const days = opts.days ?? 365;
  // Back-date a little so a slightly skewed clock (VMs, CI) still accepts them.
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(Date.now() + days * DAY_MS);

  const caKeys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=ws-drain dev CA',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const sans = subjectAltNames(opts.hosts);
  const cn = opts.commonName ?? sans.find((s) => s.type === 'dns')?.value ?? '127.0.0.1';
  const leafKeys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    subject: `CN=${cn.replace(/[,+="\\<>;#]/g, '_')}`,
    issuer: ca.subject,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });

  return {
    caCert: ca.toString('pem') + '\n',
    caKey: (await pkcs8Pem(caKeys.privateKey)) + '\n',
    tlsCert: leaf.toString('pem') + '\n',
    tlsKey: (await pkcs8Pem(leafKeys.privateKey)) + '\n',
  };
}

export { DEV_CERT_FILES };

/** Writes ca.crt, ca.key, tls.crt, tls.key into dir (created if needed); keys are 0600. */
export async function writeDevCerts(dir: string, pems: DevCertPems): Promise<Record<keyof DevCertPems, string>> {
  await makeDirectory(dir);
  const paths = {
    caCert: join(dir, DEV_CERT_FILES.caCert),
    caKey: join(dir, DEV_CERT_FILES.caKey),
    tlsCert: join(dir, DEV_CERT_FILES.tlsCert),
    tlsKey: join(dir, DEV_CERT_FILES.tlsKey),
  };
  for (const k of ['caKey', 'tlsKey'] as const) {
    await writeFile(paths[k], pems[k], { mode: 0o600 });
    // writeFile's mode only applies on creation; an existing file keeps its mode otherwise.
    await chmod(paths[k], 0o600);
  }
  await writeFile(paths.caCert, pems.caCert, { mode: 0o644 });
  await writeFile(paths.tlsCert, pems.tlsCert, { mode: 0o644 });
  return paths;
}
