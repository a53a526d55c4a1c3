// File-system edges (CLI, dev certificates) that must end with a clear error on any path.
// Node's mkdir({recursive: true}) loops forever where a parent exists but
// refuses children (/proc/nope: ENOENT from mkdir while /proc exists), and
// readFile of /dev/zero or an endless pipe never returns: both are replaced here.
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** Why a path operation failed, in words, from a Node system error. */
function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

async function statOrUndefined(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: ${reason(err)}`);
  }
}

/**
 * `mkdir -p` that always ends: walks up to the nearest existing ancestor, then
 * creates each missing level once. Throws an Error naming the path and the cause.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    const st = await statOrUndefined(at);
    if (st) {
      if (!st.isDirectory()) throw new Error(`${at} exists and is not a directory`);
      break;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) throw new Error(`${dir}: no existing parent directory`);
    at = parent;
  }
  for (const path of missing.reverse()) {
    try {
      await mkdir(path);
    } catch (err) {
      // Created in between by someone else: fine if it is a directory now.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await statOrUndefined(path))?.isDirectory()) continue;
      // procfs, sysfs and the like answer ENOENT for a name they will never hold.
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${dirname(path)} does not allow new directories` : reason(err);
      throw new Error(`cannot create directory ${path}: ${why}`);
    }
  }
}

/** Input files larger than this are refused rather than read into memory. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/**
 * Reads a file, a pipe or a device, refusing directories and anything longer
 * than maxBytes (so /dev/zero ends with an error, not an out-of-memory).
 * Errors start with the path.
 */
export async function readBoundedFile(path: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new Error(`${path}: ${reason(err)}`);
  }
  try {
    if ((await handle.stat()).isDirectory()) throw new Error(`${path}: is a directory`);
    const chunks: Buffer[] = [];
    let total = 0;
    const buffer = Buffer.alloc(Math.min(1024 * 1024, maxBytes + 1));
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new Error(`${path}: longer than ${maxBytes} bytes`);
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
    return Buffer.concat(chunks);
  } catch (err) {
    throw err instanceof Error && err.message.startsWith(`${path}: `) ? err : new Error(`${path}: ${reason(err)}`);
  } finally {
    await handle.close();
  }
}

/** readBoundedFile as UTF-8 text, for manifests. */
export async function readTextFile(path: string, maxBytes = MAX_INPUT_BYTES): Promise<string> {
  return (await readBoundedFile(path, maxBytes)).toString('utf8');
}

/** Reads a stream (stdin) as UTF-8, refusing more than maxBytes. */
export async function readTextStream(stream: AsyncIterable<Buffer | string>, what: string, maxBytes = MAX_INPUT_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buffer.length;
    if (total > maxBytes) throw new Error(`${what}: longer than ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
