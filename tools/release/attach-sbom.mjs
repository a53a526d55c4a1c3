#!/usr/bin/env node
// Attaches each release image's SBOM to its pushed image index as an OCI 1.1
// referrer (docs/release.md#sbom): an image manifest with
//   artifactType  application/spdx+json
//   config        the OCI empty descriptor ({}, application/vnd.oci.empty.v1+json)
//   layers        the SPDX document (application/spdx+json, titled with its file name)
//   subject       the index build.sh pushed (its digest from images.env)
// pushed with skopeo (so registry credentials are the ones buildah/skopeo use)
// under the tag sha256-<index hex>.spdx, a name any client can derive from
// the digest. Registries with the referrers API (OCI distribution 1.1) list
// it under GET /v2/<name>/referrers/<index digest> as well.
//
// usage: node tools/release/attach-sbom.mjs [--tls-verify=false] DIR
//   DIR: build.sh's --out (images.env, ws-drain-<target>.spdx.json)
// stdout: one `ws-drain-<target>.spdx=REPOSITORY:TAG@sha256:DIGEST` line per image.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { 'tls-verify': { type: 'string', default: 'true' } }, allowPositionals: true });
const dir = positionals[0];
if (!dir || !['true', 'false'].includes(values['tls-verify'])) throw new Error('usage: attach-sbom.mjs [--tls-verify=false] DIR');
const tls = values['tls-verify'];

const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const skopeo = (args) => execFileSync('skopeo', args, { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });

const images = readFileSync(join(dir, 'images.env'), 'utf8')
  .split('\n')
  .filter((l) => l.includes('='))
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
if (images.length === 0) throw new Error(`${dir}/images.env lists no image`);

for (const [name, ref] of images) {
  const [tagged, digest] = ref.split('@');
  if (!digest?.startsWith('sha256:')) throw new Error(`${name}: ${ref} is not pinned by digest`);
  const repository = tagged.replace(/:[^:/]+$/, '');
  // The subject descriptor needs the index's media type and size: read what the registry serves.
  const index = skopeo(['inspect', '--raw', `--tls-verify=${tls}`, `docker://${repository}@${digest}`]);
  if (sha256(index) !== digest) throw new Error(`${name}: the registry serves ${sha256(index)} for ${digest}`);
  const subject = { mediaType: JSON.parse(index.toString('utf8')).mediaType, digest, size: index.length };

  const file = `${name}.spdx.json`;
  const sbom = readFileSync(join(dir, file));
  const layout = mkdtempSync(join(tmpdir(), 'ws-drain-sbom-'));
  try {
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    const blob = (bytes) => {
      writeFileSync(join(layout, 'blobs/sha256', sha256(bytes).slice('sha256:'.length)), bytes);
      return { digest: sha256(bytes), size: bytes.length };
    };
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/spdx+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', ...blob(Buffer.from('{}')) },
        layers: [{ mediaType: 'application/spdx+json', ...blob(sbom), annotations: { 'org.opencontainers.image.title': file } }],
        subject,
      }),
    );
    const descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...blob(manifest) };
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...descriptor, annotations: { 'org.opencontainers.image.ref.name': 'sbom' } }] }));
    const tag = `${repository}:${digest.replace(':', '-')}.spdx`;
    // --preserve-digests: pushed byte for byte (skopeo would otherwise re-encode it).
    skopeo(['copy', '--quiet', '--preserve-digests', `--dest-tls-verify=${tls}`, `oci:${layout}:sbom`, `docker://${tag}`]);
    const pushed = skopeo(['inspect', '--raw', `--tls-verify=${tls}`, `docker://${tag}`]);
    if (sha256(pushed) !== descriptor.digest) throw new Error(`${name}: ${tag} is ${sha256(pushed)}, pushed ${descriptor.digest}`);
    process.stdout.write(`${name}.spdx=${tag}@${descriptor.digest}\n`);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
