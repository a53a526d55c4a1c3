// RFC 6902 patch between two JSON documents. The injector builds its patch
// directly (inject.ts); this generic diff stays for checking that patch in tests.

import jsonpatch from 'fast-json-patch';

export interface PatchOperation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

/** The operations that turn `original` into `mutated` (both JSON objects). */
export function diffPatch(original: object, mutated: object): PatchOperation[] {
  return jsonpatch.compare(original, mutated).map((operation) => ({ ...operation }));
}
