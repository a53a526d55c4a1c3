// A bounded memo of /mutate answers (serve --answer-cache-size). The pods of
// one ReplicaSet (or parallel Job) reach admission byte for byte the same but
// for the review's uid: no name yet (generateName), the same labels, owner and
// spec. A rollout or scale-up of N replicas, when admission load peaks, asks
// the same question N times; from the fourth time on, the answer comes from
// here, without JSON.parse, the core or serialisation.
//
// Why a remembered answer is the one the webhook would compute
// (test/server/answer-memo.test.ts compares both over generated reviews):
// - The core is pure: an answer depends only on the review, the namespace's
//   view and the config, fixed per memo.
// - A review's key is its body's bytes with the value of their first
//   `"uid":"` cut out (at most 256 printable ASCII characters, no `"` or
//   `\`). An entry keeps a copy of those bytes and answers only a body whose
//   own are equal to them; a cheap hash of the same bytes (FNV-1a over 32-bit words, in
//   JavaScript) only finds it, so two bodies that share one cost a computed
//   answer, never each other's. Two bodies with one key differ only in that
//   value (the cut is at the first such mark, so equal rests mean equal
//   cuts), and JSON.parse makes the same tree of both but for that one string.
//   It is request.uid exactly when two bodies with different values there
//   each parsed with their own as request.uid; otherwise request.uid comes
//   from elsewhere in the bytes (a later duplicate key, say) and is the same
//   for every body of the key. So an entry answers a review with another uid
//   only once two uids have been seen to be request.uid ("verified"); before,
//   only the same uid, i.e. the same bytes.
// - admit() reads request.uid only to echo it, and serializeReview writes it
//   first: the answer is the remembered text after the uid, behind this uid.
// - The namespace's view is looked up for every review, as admit() does, and
//   must be the view the entry was answered with: the informer and its worker
//   copy (namespaces.ts, namespace-ipc.ts) make a new view for every change of
//   a namespace and never edit one.
// - Only answers the core made for a pod CREATE are kept (mutated, skipped,
//   denied), not an internal error, and not the 1 MiB safety net's denial,
//   whose verdict also depends on the uid's length.
//
// What it costs when pods do not repeat: a body's first sighting (one whose
// cheap hash the memo does not hold) keeps only that cheap hash and
// allocates no copy (it is hashed from the one scratch buffer); the second
// keeps a copy of its bytes and its uid; the third keeps
// the answer (and verifies the uid when it differs). So a template is
// computed three times before it is answered from here, once more than if
// the first sighting kept the bytes, which would copy every body that never
// repeats. No digest: a SHA-256 costs 10-19 µs in the server, where OpenSSL's
// code runs cold between reviews; the cheap hash ~1.7, comparing the bytes
// less than 1 (docs/performance.md). Bounded whatever arrives: at most
// `entries` answers holding at most entries × BYTES_PER_ENTRY of answer text
// and bodies (and one largest entry's), least recently used out first, plus
// `entries` sightings (a cheap hash, or a body's bytes and a uid) holding at
// most as many bytes, the oldest out first; a body or answer over
// MAX_ENTRY_BYTES is not kept. Each serve --workers process keeps a memo of
// its own.
import type { NamespaceView } from '../core/namespace-defaults.js';
import type { WebhookConfig } from '../core/types.js';
import { answerAfterUid, answerWithUid, OVERSIZE_DENIAL_PREFIX, type NamespaceLookup } from './admission.js';
import { answerParsed, parseReviewBody, type AdmissionRecord } from './review-routes.js';

/** serve --answer-cache-size's default: far more pod templates than roll out at once in one cluster. */
export const DEFAULT_ANSWER_CACHE_ENTRIES = 256;
/** A memo of N entries holds at most N × 16 KiB of answer text and bodies (4 MiB by default), and its sightings as much. */
export const BYTES_PER_ENTRY = 16 * 1024;
/** Largest body looked up, and largest answer text kept. */
export const MAX_ENTRY_BYTES = 64 * 1024;
/** Counted per entry and sighting on top of the bytes it holds: the objects, the Map's slot, the record's strings. */
export const ENTRY_OVERHEAD = 256;
/** admissionReviewSchema's bound of request.uid. */
const MAX_UID_CHARS = 256;
const UID_MARK = Buffer.from('"uid":"');
/** What answerWithUid writes before the quoted uid, in bytes. */
const ANSWER_HEAD_BYTES = answerWithUid('', '').length - 2;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** `bytes`: the body's UTF-8 length when known without measuring it (a hit), so the reply does not flatten the text to count it. */
export type MemoAnswer = { ok: true; result: AdmissionRecord; body: string; bytes?: number } | { ok: false; error: string };

export interface AnswerMemo {
  /** A POST /mutate body's answer, as parseReviewBody and answerParsed('mutate') give it: from the memo when it holds it. */
  answer(raw: Uint8Array, namespaces: NamespaceLookup): MemoAnswer;
  /** `bytes`: the entries' (answers and bodies); `sightings`: bodies seen and not kept, holding `sightingBytes`. */
  stats(): { entries: number; bytes: number; sightings: number; sightingBytes: number };
}

export interface AnswerMemoOptions {
  config: WebhookConfig;
  /** Most answers kept (> 0). */
  entries: number;
  /** Called once per answer(): whether it came from the memo (metrics). */
  onLookup?: (hit: boolean) => void;
}

interface Entry {
  /** The body it answers, without its uid's value (the cheap hash only finds it). */
  rest: Rest;
  /** The uid of the review that made this answer. */
  uid: string;
  /** Another uid has parsed as request.uid with this key too: the cut is request.uid. */
  verified: boolean;
  /** The view admit() answered with. */
  view: NamespaceView;
  /** The answer's text after its uid (answerAfterUid). */
  after: string;
  /** Its UTF-8 length, measured once. */
  afterBytes: number;
  record: Omit<AdmissionRecord, 'uid'>;
}

/** A copy of a body's bytes without its uid's value, and where that value was. */
interface Rest {
  bytes: Buffer;
  start: number;
}

/** A body seen and not kept: `null` when only its cheap hash was taken, then its bytes and the uid that parsed as its request.uid. */
type Sighting = { rest: Rest; uid: string } | null;

/** A body cut around the value of its first "uid": that value, and the cheap hash of the rest. */
interface Cut {
  bytes: Buffer;
  start: number;
  end: number;
  uid: string;
  hash: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// A body's rest (its bytes without the uid's value) is copied here to be
// hashed four bytes a step: a typed array's elements need their buffer's
// alignment, which a request's chunks do not have, and byte by byte the hash
// cost 50 k instructions a 1.8 kB body, 17 k so (docs/performance.md). Bodies over
// MAX_ENTRY_BYTES are never cut.
const scratch = Buffer.allocUnsafeSlow(MAX_ENTRY_BYTES);
const scratchWords = new Int32Array(scratch.buffer, scratch.byteOffset, MAX_ENTRY_BYTES >> 2);

/**
 * FNV-1a over scratch[0, length) a 32-bit word at a time (the word's high
 * bits folded down after each multiply, which only carries bits upward), the
 * last 0-3 bytes one at a time. Every step is a bijection of the hash, so two
 * rests that differ in one word never share it.
 */
function hashScratch(length: number): number {
  let h = FNV_OFFSET;
  const words = length >> 2;
  for (let i = 0; i < words; i++) {
    h = Math.imul(h ^ scratchWords[i]!, FNV_PRIME);
    h ^= h >>> 15;
  }
  for (let i = words << 2; i < length; i++) h = Math.imul(h ^ scratch[i]!, FNV_PRIME);
  return h;
}

function cutUid(raw: Uint8Array): Cut | undefined {
  if (raw.byteLength > MAX_ENTRY_BYTES) return undefined;
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const mark = bytes.indexOf(UID_MARK);
  if (mark < 0) return undefined;
  const start = mark + UID_MARK.length;
  const end = bytes.indexOf(QUOTE, start);
  if (end <= start || end - start > MAX_UID_CHARS) return undefined;
  // Printable ASCII without escapes: any such value leaves the JSON valid and means itself.
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return undefined;
  }
  bytes.copy(scratch, 0, 0, start);
  bytes.copy(scratch, start, end);
  const hash = hashScratch(start + bytes.length - end);
  return { bytes, start, end, uid: bytes.toString('latin1', start, end), hash };
}

/** The cheap hash a body is found by, undefined when it has no uid the memo can cut (for the tests' collisions). */
export function cheapHash(raw: Uint8Array): number | undefined {
  return cutUid(raw)?.hash;
}

/** The cut body's bytes without the uid's value, copied (a Buffer of its own: no pool slab kept alive). */
function restOf(cut: Cut): Rest {
  const { bytes, start, end } = cut;
  const rest = Buffer.allocUnsafeSlow(start + bytes.length - end);
  bytes.copy(rest, 0, 0, start);
  bytes.copy(rest, start, end);
  return { bytes: rest, start };
}

/** The cut body is, but for the uid's value, the one `rest` was copied from. */
function sameRest(rest: Rest, cut: Cut): boolean {
  const { bytes, start, end } = cut;
  return (
    rest.start === start &&
    rest.bytes.length === start + bytes.length - end &&
    bytes.compare(rest.bytes, 0, start, 0, start) === 0 &&
    bytes.compare(rest.bytes, start, rest.bytes.length, end, bytes.length) === 0
  );
}

/** Views are never edited, only replaced: the same object, or (a view made per lookup, as for bare names) the same parts. */
function sameView(a: NamespaceView, b: NamespaceView): boolean {
  return a === b || (a.name === b.name && a.known === b.known && a.labels === b.labels && a.annotations === b.annotations && a.defaults === b.defaults);
}

/**
 * A Map of at most `maxEntries` values holding at most `maxBytes` (each value
 * counted by `sizeOf`), the first in insertion order out first: setting a key
 * again, or `touch`, makes it the newest.
 */
class BoundedMap<V> {
  private readonly map = new Map<number, V>();
  private held = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** What the values hold, by sizeOf. */
  get bytes(): number {
    return this.held;
  }

  get(key: number): V | undefined {
    return this.map.get(key);
  }

  delete(key: number): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.map.delete(key);
    this.held -= this.sizeOf(value);
  }

  set(key: number, value: V): void {
    this.delete(key);
    this.map.set(key, value);
    this.held += this.sizeOf(value);
    while (this.map.size > this.maxEntries || this.held > this.maxBytes) this.delete(this.map.keys().next().value!);
  }

  /** Makes `key` the newest, as least recently used eviction needs on a hit. */
  touch(key: number, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
  }
}

export function createAnswerMemo(opts: AnswerMemoOptions): AnswerMemo {
  const { config } = opts;
  if (!(Number.isInteger(opts.entries) && opts.entries > 0)) throw new Error(`answer memo: entries must be a positive whole number, not ${opts.entries}`);
  const maxEntries = opts.entries;
  // One largest entry (body and answer) fits whatever `entries`.
  const maxBytes = Math.max(opts.entries * BYTES_PER_ENTRY, 2 * MAX_ENTRY_BYTES + ENTRY_OVERHEAD);
  const onLookup = opts.onLookup ?? (() => {});
  // Both by cheap hash; an entry or sighting counts for a body only when it holds the same bytes.
  // Entries in recency order (a hit touches its entry); the answer's text, the body's and ENTRY_OVERHEAD counted.
  const entries = new BoundedMap<Entry>(maxEntries, maxBytes, (e) => e.after.length + e.rest.bytes.length + ENTRY_OVERHEAD);
  // Bodies seen and not kept, the oldest out first.
  const seen = new BoundedMap<Sighting>(maxEntries, maxBytes, (s) => (s === null ? 0 : s.rest.bytes.length + ENTRY_OVERHEAD));

  /**
   * A review whose request.uid is `uid`, the value cut out of its body, was
   * answered: its answer (made by `answer` only when needed) is kept from the
   * third sighting on.
   */
  function remember(cut: Cut, answer: () => Pick<Entry, 'view' | 'after' | 'record'> | undefined): void {
    const { hash, uid } = cut;
    const old = entries.get(hash);
    const sighting = seen.get(hash);
    if (old === undefined && sighting === undefined) {
      // Most bodies are never seen again (distinct pods): keep only their cheap hash, no copy of their own.
      seen.set(hash, null);
      return;
    }
    const same = old !== undefined && sameRest(old.rest, cut) ? old : undefined;
    const first = sighting && sameRest(sighting.rest, cut) ? sighting : undefined;
    if (same === undefined && first === undefined) {
      // Its cheap hash was seen (this body's, or another's that shares it): now its bytes.
      seen.set(hash, { rest: restOf(cut), uid });
      return;
    }
    seen.delete(hash);
    const kept = answer();
    if (kept === undefined || kept.after.length > MAX_ENTRY_BYTES) return;
    const rest = (same ?? first)!.rest;
    const verified = same !== undefined ? same.verified || same.uid !== uid : first!.uid !== uid;
    entries.set(hash, { ...kept, afterBytes: Buffer.byteLength(kept.after), rest, uid, verified });
  }

  return {
    answer(raw, namespaces) {
      const cut = cutUid(raw);
      // The namespace as looked up for this review: one lookup per review, as without the memo.
      let looked: NamespaceView | undefined;
      if (cut !== undefined) {
        const entry = entries.get(cut.hash);
        if (entry !== undefined && (entry.uid === cut.uid || entry.verified) && sameRest(entry.rest, cut)) {
          looked = namespaces(entry.record.namespace);
          if (sameView(looked, entry.view)) {
            entries.touch(cut.hash, entry);
            onLookup(true);
            // The cut uid is printable ASCII without escapes: one byte a character, quoted.
            const bytes = ANSWER_HEAD_BYTES + cut.uid.length + 2 + entry.afterBytes;
            return { ok: true, result: { ...entry.record, uid: cut.uid }, body: answerWithUid(cut.uid, entry.after), bytes };
          }
        }
      }
      onLookup(false);
      const parsed = parseReviewBody(raw);
      if (!parsed.ok) return parsed;
      const used: { view?: NamespaceView } = {};
      const lookup: NamespaceLookup = (name) => (used.view = looked?.name === name ? looked : namespaces(name));
      const { result, body } = answerParsed('mutate', parsed.review, config, lookup);
      // No lookup: not a pod CREATE, so not the core's answer.
      const core = result.outcome === 'mutated' || result.outcome === 'skipped' || (result.outcome === 'denied' && !result.reason?.startsWith(OVERSIZE_DENIAL_PREFIX));
      const view = used.view;
      if (cut !== undefined && view !== undefined && core && parsed.review.request.uid === cut.uid) {
        remember(cut, () => {
          const after = answerAfterUid(body, result.uid);
          const { review: _answered, uid: _uid, ...record } = result;
          return after === undefined ? undefined : { view, after, record };
        });
      }
      return { ok: true, result, body };
    },
    stats: () => ({ entries: entries.size, bytes: entries.bytes, sightings: seen.size, sightingBytes: seen.bytes }),
  };
}
