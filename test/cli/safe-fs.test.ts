// The file-system edges that used to hang: mkdir -p under /proc looped forever
// (Node's recursive mkdir retries ENOENT), readFile of /dev/zero never ended.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirectory, readBoundedFile, readTextFile, readTextStream } from '../../src/files/safe-fs.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ws-drain-safe-fs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makeDirectory', () => {
  it('creates every missing level and accepts an existing directory', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    await makeDirectory(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
    await makeDirectory(deep);
    await makeDirectory(dir);
  });

  it.each([
    ['/proc/nope', 'cannot create directory /proc/nope: /proc does not allow new directories'],
    ['/proc/nope/a/b', 'cannot create directory /proc/nope: /proc does not allow new directories'],
    ['/sys/nope', 'cannot create directory /sys/nope'],
  ])('ends with an error under a pseudo file system: %s', async (path, message) => {
    await expect(makeDirectory(path)).rejects.toThrow(message);
  });

  it('names a file in the way', async () => {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    await expect(makeDirectory(file)).rejects.toThrow(`${file} exists and is not a directory`);
    await expect(makeDirectory(join(file, 'sub'))).rejects.toThrow(`${join(file, 'sub')}: a parent is not a directory`);
  });
});

describe('bounded reads', () => {
  it('reads a file whole', async () => {
    const file = join(dir, 'm.yaml');
    await writeFile(file, 'kind: Pod\n');
    expect(await readTextFile(file)).toBe('kind: Pod\n');
  });

  it('refuses /dev/zero past the limit instead of reading forever', async () => {
    await expect(readBoundedFile('/dev/zero', 3 * 1024 * 1024)).rejects.toThrow('/dev/zero: longer than 3145728 bytes');
  });

  it('refuses a directory and a missing file, naming the path', async () => {
    await expect(readTextFile(dir)).rejects.toThrow(`${dir}: is a directory`);
    await expect(readTextFile(join(dir, 'missing'))).rejects.toThrow(`${join(dir, 'missing')}: no such file or directory`);
  });

  it('accepts exactly the limit and refuses one byte more', async () => {
    const file = join(dir, 'ten');
    await writeFile(file, '0123456789');
    expect((await readBoundedFile(file, 10)).length).toBe(10);
    await expect(readBoundedFile(file, 9)).rejects.toThrow('longer than 9 bytes');
  });

  it('bounds a stream the same way', async () => {
    expect(await readTextStream(Readable.from([Buffer.from('a'), Buffer.from('b')]), '-', 2)).toBe('ab');
    await expect(readTextStream(Readable.from([Buffer.from('ab'), Buffer.from('c')]), '-', 2)).rejects.toThrow('-: longer than 2 bytes');
  });
});
