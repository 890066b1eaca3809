/**
 * A string that shares no memory with the one it was cut from. Values read from LDIF are slices of the reader's
 * 64 KiB input chunks; a slice kept in a long-lived cache or held record keeps its whole chunk alive (measured:
 * 202 MB of chunks held at 1M entries). Strings shorter than 13 characters are copied by V8 when cut already.
 */
export function ownString(s: string): string {
  // Concatenating flattens into new memory; the slice then points into that copy (any UTF-16 content survives).
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/**
 * The copy of `s` V8 keeps in its string table (an internalized string), got by using it as a property key: equal
 * interned strings are one object, so `===` between two of them compares pointers, where two equal-length copies of
 * different text that are slices compare their characters in a runtime call (measured: fix-schema's look-up of the
 * previous entry's attribute at the same position, 'createtimestamp' against 'modifytimestamp', ~15% of its time).
 * For the few strings every entry repeats: attribute names and keys.
 */
export function internString(s: string): string {
  const o = Object.create(null) as Record<string, number>;
  o[s] = 0;
  for (const k in o) return k;
  return s;
}

/** hash64's result: two 32-bit halves, overwritten by every call. */
export const HASH = new Int32Array(2);

/**
 * A 64-bit hash of a string as two 32-bit halves (FNV-1a and a murmur-style mix, each finalized), in HASH. The same
 * string gives the same hash in every thread and run: the ordering stage's DN index keys on it, and workers send it
 * for reference values so the main thread does not hash them again.
 */
export function hash64(s: string): Int32Array {
  let a = 0x811c9dc5 | 0;
  let b = 0x9747b28c | 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  a ^= a >>> 16; a = Math.imul(a, 0x85ebca6b); a ^= a >>> 13;
  b ^= b >>> 15; b = Math.imul(b, 0xc2b2ae35); b ^= b >>> 16;
  HASH[0] = a;
  HASH[1] = b;
  return HASH;
}
