/**
 * Text-backed entries: what the workers hand the ordering stage when an LDIF file sink comes after it.
 *
 * The ordering stage (order-dependencies.ts) reads little of an entry: its DN, its origin and the values of a few
 * reference attributes (member, manager, ...); it changes an entry only now and then (a reference re-spelled, a
 * dangling one removed, a duplicate turned into a modify). Decoding every entry on the main thread for that, and
 * writing it there as LDIF again, was most of the main thread's work, and with 2 cores the main thread bounded the
 * run (measured: ~26 us an entry on the main thread with 1 worker, at 1M entries ~19k entries/s).
 *
 * So the workers write each entry's LDIF text (the sink's own writer, at the sink's fold column) and send it with
 * only the DN, normalized DN, category, origin and the hashes of the reference values (the ordering stage finds
 * targets and checks spellings by hash). On the main thread a `TextEntry` carries them, and its text as a range of the
 * batch's bytes. A changed reference value gets its line written again in the text (editRef, replaceRef). The first
 * read of `attrs` (a duplicate turned into a modify, a reject written out) parses the text back into attributes, and
 * from then on the entry is an ordinary one: its text is dropped, and the sink writes it from its attributes. An
 * unchanged entry's bytes go to the output as they are: the same bytes the sink would have written, since it is the
 * same writer on the same entry.
 *
 * Parsing the text back gives the attributes the worker had: names as spelled, values in order, a base64 value that
 * is valid UTF-8 as text and any other as bytes (the same rule the LDIF reader applies to the input: the stages
 * before never make bytes that are valid UTF-8).
 *
 * Wire form of a batch (`TextRecordsWire`): the records' text in one buffer, a newline between two records (so a run
 * of consecutive records is one range, written with one copy), and per record its strings, numbers and hashes, each
 * kind in its own flat array (`s`, `i`, `h`):
 *
 *   s: dn ndn category (key name)*     i: end line index heap keys nrefs (count)*     h: (4 hashes per value)*
 *
 * `end` is where its text ends in the buffer (it starts one byte after the previous record's end, or at 0); `keys`
 * the DN's hashes and spelling for the ordering stage when it is plain (TextEntry `keys`, KEYS_NONE when not); `ndn`
 * `=` when equal to `dn`, `` when the DN is not valid (the ordering stage reports it); `category` `` when unset;
 * `line` -1 without an origin; `heap` the entry's heapEstimate (entry.ts) before it became text; `name` `` when
 * equal to `key`. The reference values themselves do not travel: the ordering stage decides most entries on the
 * hashes alone, and reads a value from the text when it needs it (`refValue`, `ref`). Sent as strings, they were
 * ~2 million structured-cloned strings per million entries, and the held groups' JSON in the spill. Per value, four
 * hashes: hash64 (strings.ts) of the DN it names, normalized (refTarget), and of its
 * DN part as spelled; NaN first when it is not a DN. Records that are not entries, entries with a binary reference
 * value, and a batch whose text is not all ASCII (offsets would not be bytes) travel whole in `side`.
 */
import { heapEstimate, type Attribute, type Entry, type LdifRecord, type Origin } from '../entry.js';
import { LdapflowError } from '../errors.js';
import { formatAttrLines, formatEntryRaw, formatRecordTo, TextOut, TextPieces } from '../sinks/ldif-format.js';
import { parseLdifText, type RawSource } from '../sources/ldif-parser.js';
import { normalizeDn, plainDn, PLAIN_ENTRY, PLAIN_HASH } from '../dn.js';
import { hash64, HASH, ownString } from '../strings.js';
import { sideReader } from './record-codec.js';

export class TextEntry implements Entry {
  readonly kind = 'entry' as const;
  ndn?: string;
  origin?: Origin;
  category?: string;
  /** The entry's LDIF text is `buf[start, end)` (formatRecordTo output, newline-terminated); undefined once the
   * entry was parsed back (`attrs` read). */
  buf: Buffer | undefined;
  start: number;
  end: number;
  /** The fold column its text was written at. */
  wrap = 76;
  /** heapEstimate of the entry as the worker had it (the ordering stage's memory budget counts it so). */
  heapBytes = 0;
  /** The reference attributes the workers were asked for (by lower-cased name), while `buf` is set: name as written
   * and number of values; the values are read from the text on first use (`ref`). */
  refs: Map<string, RefAttr> | undefined;
  /**
   * Their hashes, made in the worker, four per value by the same name and position: hash64 of the DN the value names
   * (refTarget) and of its DN part as spelled; NaN first when the value is not a DN. The ordering stage finds the
   * target and tells whether it is spelled exactly so with them, without normalizing or hashing on its own thread.
   */
  hashes: Map<string, Float64Array> | undefined;
  /**
   * Its DN's keys from its worker, until the ordering stage has taken them: `keys[keysAt...]` is the form (KEYS_ROOT,
   * KEYS_PARENT), the number of characters where the DN differs from its normalized form, those (position, character
   * code) pairs, then hash64 halves of the normalized DN and of the DN as spelled, and of the parent's normalized DN
   * (KEYS_PARENT). Undefined when the worker sent none (the DN is not plain: see plainDn) or once taken.
   */
  keys: Int32Array | undefined;
  keysAt = 0;
  /** Its ordinal in the ordering stage's index, once it arrived there (-1 before). */
  ord = -1;
  private full: Map<string, Attribute> | undefined;

  constructor(public dn: string, buf: Buffer, start: number, end: number, refs: Map<string, RefAttr> | undefined) {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.refs = refs;
  }

  /** All attributes: the text parsed back on first use; the entry is then an ordinary one (its text dropped). */
  get attrs(): Map<string, Attribute> {
    if (this.full) return this.full;
    const buf = this.buf!;
    const out = parseLdifText(buf.subarray(this.start, this.end));
    const rec = out.records[0];
    if (out.records.length !== 1 || out.rejects.length || rec.kind !== 'entry') {
      throw new LdapflowError('INTERNAL_TEXT_ENTRY', `the LDIF text written for "${this.dn}" does not read back as one entry`, { dn: this.dn });
    }
    this.attrs = rec.attrs;
    return rec.attrs;
  }

  set attrs(m: Map<string, Attribute>) {
    this.full = m;
    this.buf = undefined;
    this.refs = undefined;
    this.hashes = undefined;
  }

  /** A reference attribute (lower-cased name): its values read from the text's lines of it while the text stands,
   * without parsing the rest. */
  ref(key: string): Attribute | undefined {
    if (!this.buf) return this.attrs.get(key);
    const a = this.refs?.get(key);
    if (a && !a.values) {
      const lines = this.refLines(key)!;
      const values: string[] = [];
      for (let i = 0; i < a.n; i++) values.push(this.refValue(lines, i));
      a.values = values;
    }
    return a as Attribute | undefined;
  }

  /**
   * Where the values of reference attribute `key` are in the text, while it stands: per value, the offset of the
   * newline before its line and the offset past its last (continuation) line. Values of one attribute are written
   * together (the first line starts with `\nname:`) and a value never holds a newline (it goes base64), so the block
   * ends before the first line of another attribute.
   */
  refLines(key: string): Int32Array | undefined {
    const buf = this.buf;
    const a = this.refs?.get(key);
    if (!buf || !a) return undefined;
    const s = buf.indexOf('\n' + a.name + ':', this.start, 'latin1');
    const out = new Int32Array(2 * a.n);
    let k = 0;
    if (s >= 0 && s < this.end) {
      const head = a.name + ':';
      const last = this.end - 1; // the text's last newline
      // The next newline is searched in the text as a string (String indexOf, in V8's own code): buf.indexOf(10) was a
      // call into C++ a line, most of this function's time at the end of input (a held group's hundred members), and
      // a loop over the bytes took twice as long as this (8.1 against 4.1 us for a group of ~6.8 KB).
      const t = buf.toString('latin1', s, last);
      let e = s;
      out[k++] = s;
      for (;;) {
        const r = t.indexOf('\n', e - s + 1);
        const nl = r < 0 ? last : s + r;
        if (nl >= last) { e = last; break; } // the text's last newline ends the block
        e = nl;
        if (buf[nl + 1] === 32) continue; // a continuation line
        if (!sameBytes(buf, nl + 1, head)) break;
        if (k + 3 > out.length) { k = -1; break; } // more values than it was sent with
        out[k++] = nl;
        out[k++] = nl;
      }
      if (k > 0) out[k++] = e;
    }
    if (k !== out.length) throw new LdapflowError('INTERNAL_TEXT_ENTRY', `the text written for "${this.dn}" does not hold the ${a.n} values of ${a.name} it was sent with`, { dn: this.dn });
    return out;
  }

  /** Value `i` of a reference attribute, read from its line(s) (`lines` from refLines): plain, or base64 UTF-8. */
  refValue(lines: Int32Array, i: number): string {
    const buf = this.buf!;
    let l = buf.toString('latin1', lines[2 * i] + 1, lines[2 * i + 1]);
    if (l.includes('\n ')) l = l.replaceAll('\n ', '');
    const c = l.indexOf(':') + 1;
    return l.charCodeAt(c) === 58 ? Buffer.from(l.slice(c + 2), 'base64').toString('utf8') : l.slice(c + 1);
  }

  /**
   * Change some values of a reference attribute in the text: `edits` by value index, a new value (its line written
   * as the writer writes it), null to remove the value, nothing (or undefined) to keep its lines as they are. A held
   * group of a hundred members with one re-spelled gets that one line written, not the hundred.
   */
  editRef(key: string, lines: Int32Array, edits: Array<string | null | undefined>): void {
    const a = this.refs!.get(key)!;
    const parts: Array<string | [number, number]> = [];
    let size = 0;
    let kept = 0;
    for (let i = 0; i < a.n; i++) {
      const x = edits[i];
      if (x === null) continue;
      kept++;
      if (x === undefined) { parts.push([lines[2 * i], lines[2 * i + 1]]); size += lines[2 * i + 1] - lines[2 * i]; continue; }
      const t = formatAttrLines(a.name, [x], this.wrap);
      parts.push(t);
      size += t.length;
    }
    this.splice(lines[0], lines[2 * a.n - 1], parts, size);
    if (kept) { a.n = kept; a.values = undefined; } else this.refs!.delete(key);
    this.hashes?.delete(key);
  }

  /** The text with its bytes [s, e) replaced by `parts` (`size` bytes: ASCII text, or ranges of the old text). */
  private splice(s: number, e: number, parts: Array<string | [number, number]>, size: number): void {
    const buf = this.buf!;
    const n = (s - this.start) + size + (this.end - e);
    const out = Buffer.allocUnsafeSlow(n);
    let off = buf.copy(out, 0, this.start, s);
    for (const p of parts) off += typeof p === 'string' ? out.write(p, off, 'latin1') : buf.copy(out, off, p[0], p[1]);
    buf.copy(out, off, e, this.end);
    this.buf = out;
    this.start = 0;
    this.end = n;
  }

  /**
   * Give a reference attribute (lower-cased name) new values, none to remove it, in the text itself: its lines are
   * written again (formatAttrLines, as the writer writes them) in place of the old ones, the rest of the text stays.
   * Parsing the entry back and writing it whole took most of the end-of-input pass over held groups (a group of a
   * hundred members, each member re-spelled or one dangling). False when the entry has no text any more.
   */
  replaceRef(key: string, values: string[]): boolean {
    const buf = this.buf;
    const a = this.refs?.get(key);
    if (!buf || !a) return false;
    const at = this.refLines(key)!;
    const lines = formatAttrLines(a.name, values, this.wrap);
    this.splice(at[0], at[at.length - 1], [lines], lines.length);
    if (values.length) { a.values = values; a.n = values.length; } else this.refs!.delete(key);
    this.hashes?.delete(key); // worked out again from the values where needed
    return true;
  }

  /** The hashes of a reference attribute's values (see `hashes`), while the text stands. */
  refHashes(key: string): Float64Array | undefined {
    return this.buf ? this.hashes?.get(key) : undefined;
  }

  /** Keep the entry past its batch: own copies of its text and strings (they point into the batch's memory). */
  detach(): void {
    if (this.buf) {
      const n = this.end - this.start;
      const b = Buffer.allocUnsafeSlow(n);
      this.buf.copy(b, 0, this.start, this.end);
      this.buf = b;
      this.start = 0;
      this.end = n;
    }
    this.dn = ownString(this.dn);
    if (this.ndn !== undefined) this.ndn = ownString(this.ndn);
    if (this.hashes) for (const [k, h] of this.hashes) this.hashes.set(k, h.slice()); // views of the batch's array
    if (this.origin) this.origin = { file: this.origin.file, line: this.origin.line, index: this.origin.index };
    if (this.refs) {
      for (const a of this.refs.values()) {
        a.name = ownString(a.name);
        const v = a.values;
        if (v) for (let i = 0; i < v.length; i++) v[i] = ownString(v[i]);
      }
    }
  }
}

/** The forms of a text entry's DN keys (TextEntry `keys`): none sent, a DN without a parent, a DN with one. */
export const KEYS_NONE = 0, KEYS_ROOT = 1, KEYS_PARENT = 2;

/** Where the hashes of DN keys starting at `at` (form, not KEYS_NONE) are: after the form, the count and the pairs. */
export function keyHashesAt(k: Int32Array, at: number): number {
  return at + 2 + 2 * k[at + 1];
}

/** A reference attribute of a text entry: name as written, number of values, the values once read. */
export interface RefAttr {
  name: string;
  n: number;
  values: string[] | undefined;
}

const UID_SUFFIX = /#'[01]*'B$/;

/**
 * Where a reference value's DN part ends: before a nameAndOptionalUID suffix (`#'0101'B`), else at its end.
 */
export function dnPartEnd(v: string): number {
  if (v.charCodeAt(v.length - 1) !== 66 /* B */) return v.length;
  const m = UID_SUFFIX.exec(v);
  return m ? m.index : v.length;
}

/** The normalized DN a reference value names (its UID suffix aside). Throws when it is not a valid DN. */
export function refTarget(v: string): string {
  const cut = dnPartEnd(v);
  return normalizeDn(cut === v.length ? v : v.slice(0, cut));
}

/** The four hashes of a reference value (see TextEntry `hashes`), gathered for the batch. */
function pushHashes(v: string): void {
  const cut = dnPartEnd(v);
  if (plainDn(v, cut, true) >= 0) {
    // Hashed in one pass, without normalizing (dn.ts).
    hashes.push(PLAIN_HASH[0]);
    hashes.push(PLAIN_HASH[1]);
    hashes.push(PLAIN_HASH[2]);
    hashes.push(PLAIN_HASH[3]);
    return;
  }
  const dnPart = cut === v.length ? v : v.slice(0, cut);
  let t: string;
  try { t = normalizeDn(dnPart); } catch { hashes.push(NaN); hashes.push(0); hashes.push(0); hashes.push(0); return; }
  const h = hash64(t);
  hashes.push(h[0]);
  hashes.push(h[1]);
  hash64(dnPart);
  hashes.push(HASH[0]);
  hashes.push(HASH[1]);
}

/** An attribute a stage reads without needing the whole entry: from a text entry's references, else from attrs. */
export function refAttr(rec: Entry | { attrs: Map<string, Attribute> }, key: string): Attribute | undefined {
  return rec instanceof TextEntry ? rec.ref(key) : rec.attrs.get(key);
}

export interface TextRecordsWire {
  /** Strings, in segments (record-codec.ts says why): per text entry dn ndn category, then per reference attribute
   * key name value*. */
  s: string[][];
  /** Numbers: per text entry end line index heap, its DN keys (TextEntry `keys`), nrefs, then per reference
   * attribute its value count. */
  i: Int32Array;
  /** Four hashes per reference value (TextEntry `hashes`). */
  h: Float64Array;
  n: number;
  side: Array<[number, LdifRecord]>;
}

const SEGMENT = 8000;

/**
 * Numbers gathered for a batch, then copied out at their length: typed arrays cross to the main thread in one copy,
 * where the same numbers in the string array were structured-cloned one by one (postMessage was ~8% of a worker's
 * time with them there).
 */
class Grow<T extends Int32Array | Float64Array> {
  n = 0;
  constructor(public a: T) {}
  push(x: number): void {
    // Its own growth, not reserve(1): called for every number, that way took ~4% more of a worker's instructions.
    if (this.n === this.a.length) {
      const b = new (this.a.constructor as new (n: number) => T)(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  /** Room for `k` more numbers: the array to write them to, from `n` (then add `k` to `n`). */
  reserve(k: number): T {
    if (this.n + k > this.a.length) {
      const b = new (this.a.constructor as new (n: number) => T)(Math.max(this.a.length * 2, this.n + k));
      b.set(this.a);
      this.a = b;
    }
    return this.a;
  }
  take(): T {
    const out = this.a.slice(0, this.n) as T;
    this.n = 0;
    return out;
  }
}
const ints = new Grow(new Int32Array(4096));
const hashes = new Grow(new Float64Array(4096));

/**
 * Worker side: write `records` as text into `into` (or a new buffer when it does not fit) and describe them.
 * `refKeys` are the lower-cased reference attributes whose names, value counts and hashes travel with the text. With `raw` (the chunk the
 * records were read from, and the spans its reader noted), attributes that came through unchanged are copied from it
 * (formatEntryRaw): the same bytes.
 */
export function encodeTextRecords(records: LdifRecord[], wrap: number, refKeys: string[], into?: Buffer, raw?: RawSource): { wire: TextRecordsWire; buf: Buffer; len: number } {
  const enc = new TextRecordsEncoder(wrap, refKeys, into, raw);
  enc.add(records);
  return enc.ascii() ? enc.finish() : wholeRecords(records, enc.out.buf);
}

/** A batch whose text is not all ASCII (offsets would count characters, not bytes): every record travels whole. */
export function wholeRecords(records: LdifRecord[], buf: Buffer): { wire: TextRecordsWire; buf: Buffer; len: number } {
  const all = records.map((r, i) => [i, r] as [number, LdifRecord]);
  return { wire: { s: [], i: new Int32Array(0), h: new Float64Array(0), n: records.length, side: all }, buf, len: 0 };
}

/**
 * encodeTextRecords a few records at a time (`add`), their text appended to one buffer as they come: a worker
 * writes a chunk's records as it reads them, so they need not all live at once (see worker.ts). One encoder at a
 * time per thread (the numbers gather in module-level arrays).
 */
export class TextRecordsEncoder {
  readonly out: TextOut;
  private readonly side: Array<[number, LdifRecord]> = [];
  private f: string[] = [];
  private readonly segments = [this.f];
  private n = 0;
  private nText = 0;

  constructor(private readonly wrap: number, private readonly refKeys: string[], into?: Buffer, private readonly raw?: RawSource) {
    this.out = new TextOut(into);
    ints.n = 0;
    hashes.n = 0;
  }

  add(records: LdifRecord[]): void {
    const { wrap, raw } = this;
    const text = new TextPieces();
    // Ends are offsets in the whole text: what was appended before, and the text of these so far.
    const base = this.out.len;
    for (let j = 0; j < records.length; j++) {
      const rec = records[j];
      const i = this.n++;
      if (rec.kind !== 'entry' || rec.controls !== undefined || !refsOf(rec, this.refKeys)) { this.side.push([i, rec]); continue; }
      if (this.f.length > SEGMENT) this.segments.push(this.f = []);
      const f = this.f;
      if (this.nText++ > 0) text.parts.push('\n');
      if (raw) formatEntryRaw(rec, text, wrap, raw.spans, raw.src);
      else formatRecordTo(rec, text.parts, wrap);
      const dn = rec.dn;
      // A plain DN's hashes and spelling in one pass (the ordering stage's keys: see TextEntry `keys`).
      const plain = plainDn(dn, dn.length, true, true);
      let ndn = rec.ndn;
      if (ndn === undefined) {
        if (plain >= 0) ndn = rec.ndn = plain ? dn.toLowerCase() : dn;
        else try { ndn = rec.ndn = normalizeDn(dn); } catch { ndn = undefined; }
      }
      const o = rec.origin;
      f.push(dn, ndn === undefined ? '' : ndn === dn ? '=' : ndn, rec.category ?? '');
      ints.push(base + text.pos);
      ints.push(o ? o.line : -1);
      ints.push(o ? o.index : -1);
      ints.push(heapEstimate(rec));
      if (plain < 0) ints.push(KEYS_NONE);
      else {
        const nd = PLAIN_ENTRY.n;
        const nh = PLAIN_ENTRY.parent ? 6 : 4;
        const a = ints.reserve(2 + nd + nh);
        let w = ints.n;
        a[w++] = PLAIN_ENTRY.parent ? KEYS_PARENT : KEYS_ROOT;
        a[w++] = nd >> 1;
        const d = PLAIN_ENTRY.diffs;
        for (let x = 0; x < nd; x++) a[w++] = d[x];
        for (let x = 0; x < nh; x++) a[w++] = PLAIN_HASH[x];
        ints.n = w;
      }
      const nrefs = found.length;
      ints.push(nrefs);
      for (let r = 0; r < nrefs; r++) {
        const a = found[r];
        const key = foundKeys[r];
        f.push(key, a.name === key ? '' : a.name);
        ints.push(a.values.length);
        for (const v of a.values) pushHashes(v as string);
      }
      found.length = 0;
      foundKeys.length = 0;
      text.cut();
    }
    this.out.append(text);
  }

  /** Whether all the text so far is ASCII (else the offsets are not bytes: see wholeRecords). */
  ascii(): boolean {
    return this.out.ascii;
  }

  finish(): { wire: TextRecordsWire; buf: Buffer; len: number } {
    const wire: TextRecordsWire = { s: this.segments, i: ints.take(), h: hashes.take(), n: this.n, side: this.side };
    return { wire, buf: this.out.text(), len: this.out.len };
  }
}

function sameBytes(buf: Buffer, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (buf[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** The reference attributes an entry has (in `found`, with their keys in `foundKeys`); false when a value is binary
 * (the entry then travels whole). */
const found: Attribute[] = [];
const foundKeys: string[] = [];
function refsOf(rec: Entry, refKeys: string[]): boolean {
  found.length = 0;
  foundKeys.length = 0;
  for (const key of refKeys) {
    const a = rec.attrs.get(key);
    if (!a) continue;
    for (const v of a.values) if (typeof v !== 'string') return false;
    found.push(a);
    foundKeys.push(key);
  }
  return true;
}

/** Main thread: the records of a batch from wire form and its text (`buf`, the batch's own memory). */
export function decodeTextRecords(w: TextRecordsWire, buf: Buffer, wrap: number, file: string, lineOffset: number, indexOffset: number): LdifRecord[] {
  const out: LdifRecord[] = new Array(w.n);
  let seg = 0;
  let f = w.s[0];
  let k = 0;
  const ints = w.i;
  let q = 0;
  let hq = 0;
  const sideAt = sideReader(w.side, lineOffset, indexOffset);
  let start = 0;
  for (let i = 0; i < w.n; i++) {
    const r = sideAt(i);
    if (r) { out[i] = r; continue; }
    if (k >= f.length) { f = w.s[++seg]; k = 0; }
    const dn = f[k];
    const ndn = f[k + 1];
    const cat = f[k + 2];
    k += 3;
    const end = ints[q];
    const line = ints[q + 1];
    const index = ints[q + 2];
    const heap = ints[q + 3];
    const keysAt = q + 4;
    const form = ints[keysAt];
    q = form === KEYS_NONE ? keysAt + 1 : keyHashesAt(ints, keysAt) + (form === KEYS_PARENT ? 6 : 4);
    const nrefs = ints[q++];
    let refs: Map<string, RefAttr> | undefined;
    let hs: Map<string, Float64Array> | undefined;
    if (nrefs > 0) {
      refs = new Map();
      hs = new Map();
      for (let a = 0; a < nrefs; a++) {
        const key = f[k];
        const name = f[k + 1] === '' ? key : f[k + 1];
        const n = ints[q++];
        refs.set(key, { name, n, values: undefined });
        hs.set(key, w.h.subarray(hq, hq + 4 * n));
        hq += 4 * n;
        k += 2;
      }
    }
    const e = new TextEntry(dn, buf, start, end, refs);
    e.hashes = hs;
    if (form !== KEYS_NONE) {
      e.keys = ints;
      e.keysAt = keysAt;
    }
    e.heapBytes = heap;
    e.wrap = wrap;
    if (ndn !== '') e.ndn = ndn === '=' ? dn : ndn;
    if (cat !== '') e.category = cat;
    if (line !== -1) e.origin = { file, line: line + lineOffset, index: index + indexOffset };
    out[i] = e;
    start = end + 1;
  }
  return out;
}

/** The four hashes a worker sends for reference value `v` (TextEntry `hashes`); for tests. */
export function referenceHashes(v: string): Float64Array {
  hashes.n = 0;
  pushHashes(v);
  return hashes.take();
}
