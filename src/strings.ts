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

/**
 * Buffer's own encoders and decoders (the ones `buf.write` and `buf.toString` end in), called with the buffer as
 * `this`. Called as `buf.write(s, off)`, optimized code loads the method through a generic inline cache on every call
 * (Builtins_LoadIC, ~1-2% of a worker's time: writing entries' text, decoding base64 values), and `write` itself
 * checks its arguments and loads `utf8Write` again: 125 against 75 ns a call for a 48-character line. Node's own
 * methods, not documented: where one is missing, the documented call stands in.
 */
type Coder = { utf8Write?(s: string, off: number, len: number): number; base64Write?(s: string, off: number, len: number): number; utf8Slice?(start: number, end: number): string };
const BP = Buffer.prototype as unknown as Coder;
const UTF8_WRITE = BP.utf8Write ?? function (this: Buffer, s: string, off: number, len: number) { return this.write(s, off, len, 'utf8'); };
const BASE64_WRITE = BP.base64Write ?? function (this: Buffer, s: string, off: number, len: number) { return this.write(s, off, len, 'base64'); };
const UTF8_SLICE = BP.utf8Slice ?? function (this: Buffer, start: number, end: number) { return this.toString('utf8', start, end); };

/** `buf.write(s, off)`: `s` as UTF-8 at `off`, as much as fits; the bytes written. */
export function writeUtf8(buf: Buffer, s: string, off: number): number {
  return UTF8_WRITE.call(buf, s, off, buf.length - off);
}

/** `buf.write(s, 'base64')`: `s` decoded as base64 at 0, as much as fits; the bytes written. */
export function writeBase64(buf: Buffer, s: string): number {
  return BASE64_WRITE.call(buf, s, 0, buf.length);
}

/** `buf.toString('utf8', start, end)`. */
export function utf8Of(buf: Buffer, start: number, end: number): string {
  return UTF8_SLICE.call(buf, start, end);
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
