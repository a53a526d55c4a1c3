// RFC 6902 patch between the pod the API server sent and the mutated pod.

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
