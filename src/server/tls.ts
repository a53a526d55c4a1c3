// Serving certificate that follows its files. cert-manager rewrites the Secret
// volume by swapping a symlink, which fs.watch reports unreliably, so the files
// are polled (a few hundred bytes every few seconds) and compared by content.
import { X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { readBoundedFile } from '../files/safe-fs.js';
import type { Logger } from './logger.js';

export const TLS_MIN_VERSION = 'TLSv1.2' as const;

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** A PEM chain or key is a few KiB; a path to /dev/zero must fail, not fill memory. */
const MAX_PEM_BYTES = 1024 * 1024;

export async function readTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readBoundedFile(files.certFile, MAX_PEM_BYTES), readBoundedFile(files.keyFile, MAX_PEM_BYTES)]);
  return { cert, key };
}

export function secureContextOptions(m: TlsMaterial): SecureContextOptions {
  return { cert: m.cert, key: m.key, minVersion: TLS_MIN_VERSION };
}

/** Throws with OpenSSL's reason when the pair is unusable (bad PEM, key not matching the cert). */
export function checkTlsMaterial(m: TlsMaterial): { subject: string; validTo: string; fingerprint256: string } {
  createSecureContext(secureContextOptions(m));
  const cert = new X509Certificate(m.cert);
  return { subject: cert.subject, validTo: cert.validTo, fingerprint256: cert.fingerprint256 };
}

export interface TlsReloader {
  /** Checks the files once now; resolves after a reload (or a logged refusal). */
  check(): Promise<void>;
  stop(): void;
}

/**
 * Polls the cert/key files and swaps the server's secure context when they
 * change. A pair that fails to load is logged and the previous one stays in use;
 * it is retried on every poll, since cert and key may be written one after the other.
 */
export function watchTlsFiles(server: Server, files: TlsFiles, initial: TlsMaterial, logger: Logger, intervalMs: number): TlsReloader {
  let current = initial;
  let lastRefused: TlsMaterial | undefined;
  let running: Promise<void> | undefined;

  async function checkOnce(): Promise<void> {
    let next: TlsMaterial;
    try {
      next = await readTlsMaterial(files);
    } catch (err) {
      logger.error({ err: String(err), ...files }, 'cannot read TLS files; keeping the current certificate');
      return;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
    const refusedBefore = lastRefused !== undefined && next.cert.equals(lastRefused.cert) && next.key.equals(lastRefused.key);
    try {
      const info = checkTlsMaterial(next);
      server.setSecureContext(secureContextOptions(next));
      current = next;
      lastRefused = undefined;
      logger.info({ ...info, ...files }, 'reloaded TLS certificate');
    } catch (err) {
      lastRefused = next;
      if (!refusedBefore) {
        logger.error({ err: err instanceof Error ? err.message : String(err), ...files }, 'new TLS certificate/key unusable; keeping the current one');
      }
    }
  }

  function check(): Promise<void> {
    // One check at a time: a slow disk must not pile up overlapping reads.
    running ??= checkOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    check,
    stop: () => clearInterval(timer),
  };
}
