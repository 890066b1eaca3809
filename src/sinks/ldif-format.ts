/**
 * LDIF serialization of one record (RFC 2849). Values are written base64 wherever the RFC requires or recommends it:
 * a leading space, ":" or "<", a trailing space, any non-ASCII or control character, binary. Lines are folded at
 * 76 columns; since everything but comments is ASCII after base64, folding never splits a UTF-8 character
 * (comments are folded on code-point boundaries, counting UTF-8 bytes). Attribute and value order is kept.
 */
import { base64Of, type Control, type Entry, type LdifRecord, type Value } from '../entry.js';
import type { RawSource, RawSpans } from '../sources/ldif-parser.js';
import { ownString, writeUtf8 } from '../strings.js';
import { TextEntry } from '../transforms/text-record.js';

/** True when a text value cannot be written as a plain SAFE-STRING. */
const NEEDS_B64 = /^[ :<]|[^\x20-\x7e]| $/;

export interface FormatOptions {
  /** Column to fold at (bytes per line); 0 disables folding. Default 76. */
  wrap?: number;
}

const b64 = base64Of;

/** `name: value` or `name:: base64`, folded. */
export function formatAttr(name: string, v: Value, wrap = 76): string {
  return attrLine(name, v, wrap, isSafe(v));
}

/** Whether a value can be written as a plain SAFE-STRING. */
function isSafe(v: Value): boolean {
  return typeof v === 'string' && !NEEDS_B64.test(v);
}

/** formatAttr with the SAFE-STRING test already made. */
function attrLine(name: string, v: Value, wrap: number, safe: boolean): string {
  const line = safe ? (v === '' ? name + ':' : name + ': ' + (v as string)) : name + ':: ' + b64(v);
  if (!(wrap > 0 && line.length > wrap)) return line;
  const folded = fold(line, wrap);
  // A continuation line holding only spaces reads as a blank line (the end of the record) in real-world readers,
  // ours included: a value with such a run of spaces goes base64 instead (base64 text holds no spaces).
  if (safe && folded.includes(allSpaceLine(wrap))) return fold(name + ':: ' + b64(v), wrap);
  return folded;
}

let spaceLineWrap = 0;
let spaceLine = '';
/** A newline followed by a whole continuation line of spaces (`wrap` columns). */
function allSpaceLine(wrap: number): string {
  if (wrap !== spaceLineWrap) { spaceLineWrap = wrap; spaceLine = '\n' + ' '.repeat(wrap); }
  return spaceLine;
}

/** Fold an ASCII line: the first `wrap` chars, then continuation lines of a space and `wrap - 1` chars. */
export function fold(line: string, wrap = 76): string {
  let out = line.slice(0, wrap);
  for (let i = wrap; i < line.length; i += wrap - 1) out += '\n ' + line.slice(i, i + wrap - 1);
  return out;
}

/** Fold a comment line that may hold non-ASCII text, never splitting a character, counting UTF-8 bytes. */
export function foldComment(text: string, wrap = 76): string {
  const parts: string[] = [];
  let cur = '';
  let curBytes = 0;
  let limit = wrap;
  for (const ch of text.replace(/[\r\n]+/g, ' ')) {
    const b = Buffer.byteLength(ch);
    if (curBytes + b > limit) {
      parts.push(cur);
      cur = '';
      curBytes = 0;
      limit = wrap - 1;
    }
    cur += ch;
    curBytes += b;
  }
  parts.push(cur);
  return parts.join('\n ');
}

function formatControl(c: Control, wrap: number): string {
  let spec = c.oid + (c.criticality ? ' true' : ' false');
  if (c.value !== null) {
    if (typeof c.value === 'string' && !NEEDS_B64.test(c.value)) spec += ': ' + c.value;
    else spec += ':: ' + b64(c.value);
  }
  const line = 'control: ' + spec;
  return wrap > 0 && line.length > wrap ? fold(line, wrap) : line;
}

/** One record as LDIF text, ending with a newline (no blank separator line). */
export function formatRecord(rec: LdifRecord, opts: FormatOptions = {}): string {
  const out: string[] = [];
  formatRecordTo(rec, out, opts.wrap ?? 76);
  return out.join('');
}

/**
 * A line after the first of a record: its newline, then `name: value` (or base64, folded), pushed onto `out`. The
 * newline goes before the line, in one piece with `name: ` (`pfx`, from prefixOf): two pieces per line, not three.
 */
function pushLine(out: string[], name: string, pfx: string, v: Value, wrap: number): void {
  if (typeof v === 'string' && !(wrap > 0 && name.length + 2 + v.length > wrap) && !NEEDS_B64.test(v)) {
    if (v === '') out.push('\n', name, ':');
    else out.push(pfx, v);
    return;
  }
  out.push('\n', attrLine(name, v, wrap, isSafe(v)));
}

/** The lines of one attribute as formatRecordTo writes them inside a record: each with its newline before it. */
export function formatAttrLines(name: string, values: Value[], wrap = 76): string {
  const out: string[] = [];
  const pfx = prefixOf(name);
  for (const v of values) pushLine(out, name, pfx, v, wrap);
  return out.join('');
}

/** `\nname: ` per attribute name, made once: fewer pieces per line to push and to join. */
const prefixes = new Map<string, string>();
function prefixOf(name: string): string {
  let p = prefixes.get(name);
  if (p === undefined) {
    if (prefixes.size > 10000) prefixes.clear();
    // Owned copies: a name read from LDIF is a slice of its input chunk; and a `+` result this long is a cons string,
    // which every join would walk (the copy is flat).
    prefixes.set(ownString(name), p = ownString('\n' + name + ': '));
  }
  return p;
}

/**
 * The prefixes of the previous entry's attributes by position, with their names (owned copies): entries of an export
 * repeat the same attributes in the same order, so most are found by one string compare, not a Map lookup per line.
 */
const posNames: string[] = [];
const posPrefixes: string[] = [];

/**
 * One record's LDIF text pushed onto `out` as pieces: joined once per batch, they cost far less than growing a
 * string line by line (every `+` is an allocation).
 */
export function formatRecordTo(rec: LdifRecord, out: string[], wrap = 76): void {
  pushDn(out, rec.dn, wrap);
  if (rec.kind === 'entry') {
    let j = 0;
    for (const a of rec.attrs.values()) {
      const name = a.name;
      let pfx: string;
      if (posNames[j] === name) {
        pfx = posPrefixes[j];
      } else {
        pfx = prefixOf(name);
        if (j < 1000) { posNames[j] = ownString(name); posPrefixes[j] = pfx; }
      }
      j++;
      const vs = a.values;
      for (let i = 0; i < vs.length; i++) pushLine(out, name, pfx, vs[i], wrap);
    }
    out.push('\n');
    return;
  }
  for (const c of rec.controls ?? []) out.push('\n', formatControl(c, wrap));
  out.push('\nchangetype: ', rec.changetype);
  switch (rec.changetype) {
    case 'add':
      for (const a of rec.attrs.values()) {
        const pfx = prefixOf(a.name);
        for (const v of a.values) pushLine(out, a.name, pfx, v, wrap);
      }
      break;
    case 'delete':
      break;
    case 'modify':
      for (const m of rec.mods) {
        out.push('\n', m.op, ': ', m.name);
        const pfx = prefixOf(m.name);
        for (const v of m.values) pushLine(out, m.name, pfx, v, wrap);
        out.push('\n-');
      }
      break;
    case 'modrdn':
    case 'moddn':
      pushLine(out, 'newrdn', prefixOf('newrdn'), rec.newrdn, wrap);
      out.push('\ndeleteoldrdn: ', rec.deleteoldrdn ? '1' : '0');
      if (rec.newsuperior !== null) pushLine(out, 'newsuperior', prefixOf('newsuperior'), rec.newsuperior, wrap);
      break;
  }
  out.push('\n');
}

/** The first line of a record, without a newline before it; each later line brings its own (pushLine); the last
 * newline comes at the end. */
function pushDn(out: string[], dn: string, wrap: number): void {
  if (!(wrap > 0 && dn.length + 4 > wrap) && !NEEDS_B64.test(dn)) {
    if (dn === '') out.push('dn:');
    else out.push('dn: ', dn);
  } else {
    out.push(attrLine('dn', dn, wrap, isSafe(dn)));
  }
}

/**
 * An entry as formatRecordTo writes it, but with the lines of attributes that came from the input unchanged copied
 * from it (`src`, the bytes the LDIF reader read, with `spans` noted): what the lines show was checked by the reader
 * (RawSpans), the values are checked here, and a run of such attributes together in the input is one range. Most
 * attributes of an export pass a migration unchanged; writing them again was most of the writer's time (the
 * SAFE-STRING test and pieces per value, a join, a UTF-8 encode), a copy is one memcpy.
 */
export function formatEntryRaw(rec: Entry, out: TextPieces, wrap: number, spans: RawSpans, src: Buffer): void {
  const parts = out.parts;
  pushDn(parts, rec.dn, wrap);
  for (const a of rec.attrs.values()) {
    const r = a.raw;
    if (r !== undefined && r >= 0 && spans.vals[r] === a.values && spans.names[r] === a.name && writtenAs(spans.kind[r], a.values)) {
      out.range(src, spans.start[r], spans.end[r]);
      continue;
    }
    const name = a.name;
    const pfx = prefixOf(name);
    const vs = a.values;
    for (let i = 0; i < vs.length; i++) pushLine(parts, name, pfx, vs[i], wrap);
  }
  parts.push('\n');
}

/** Whether pushLine writes every value of `vs` plain (`kind` 1) or every one base64 (2). */
function writtenAs(kind: number, vs: Value[]): boolean {
  for (let i = 0; i < vs.length; i++) {
    const v = vs[i];
    if ((typeof v === 'string' && !NEEDS_B64.test(v)) !== (kind === 1)) return false;
  }
  return true;
}

/** A comment block (`# text`, folded). */
export function formatComment(text: string, wrap = 76): string {
  return foldComment('# ' + text, wrap) + '\n';
}

/**
 * Pieces joined into one string at a time when a batch is written: ~1,000 (about 25 entries, ~45 KB). Measured on the
 * 20k bench file, categorize + fix-schema applied, formatting alone: 4,096 pieces a join 10 us an entry, 1,024 or
 * 512 8.3 us, 16,384 9.9 us (a joined string past ~128 KB is a large-object allocation, slow on this VM).
 */
export const JOIN_PARTS = 1024;

/**
 * Records as LDIF text, a blank line between them (none before the first, none after the last): what the LDIF sink
 * writes, made by it or by a worker. Joined in pieces of a few tens of KiB (one string for a whole batch, ~450 KB for
 * 250 records, would be a large-object allocation, slow on this VM, see record-codec.ts), then copied once into `into`
 * when the text fits (a buffer the caller reuses), else into a new buffer of exactly the text's size. Returns the
 * buffer and the text's length in it. A text entry (src/transforms/text-record.ts) still holding its text is copied
 * as it is; consecutive ones of one batch (a newline between them there too) in one copy. With `raw` (the bytes the
 * records were read from and the spans their reader noted), entries are written by formatEntryRaw.
 */
export function formatRecordsToBuffer(records: LdifRecord[], wrap = 76, into?: Buffer, raw?: RawSource): { buf: Buffer; len: number } {
  const { buf, len } = piecesOf(records, wrap, raw).write(into);
  return { buf, len };
}

/**
 * The same text as formatRecordsToBuffer, as a list of buffers to write one after the other: text entries' text is
 * handed on as views of their own memory, not copied into one buffer (the LDIF sink: a copy of every output byte on
 * the main thread, and a large buffer per batch for the allocator to take back).
 */
export function formatRecordsToBuffers(records: LdifRecord[], wrap = 76): Uint8Array[] {
  return piecesOf(records, wrap).buffers();
}

/** The records' text; `after`: records came before them (so the first one's blank line goes first too). */
function piecesOf(records: LdifRecord[], wrap: number, raw?: RawSource, after = false): TextPieces {
  const text = new TextPieces();
  for (let i = 0; i < records.length; i++) {
    const rec = records[i];
    if (rec instanceof TextEntry && rec.buf) {
      if (i > 0 || after) {
        // With the newline between it and the one before when that one's text ends right there: one copy for both.
        if (text.continues(rec.buf, rec.start - 1)) { text.range(rec.buf, rec.start - 1, rec.end); continue; }
        text.parts.push('\n');
      }
      text.range(rec.buf, rec.start, rec.end);
      continue;
    }
    if (i > 0 || after) text.parts.push('\n');
    if (raw && rec.kind === 'entry') formatEntryRaw(rec, text, wrap, raw.spans, raw.src);
    else formatRecordTo(rec, text.parts, wrap);
    text.cut();
  }
  return text;
}

interface TextRange { buf: Buffer; start: number; end: number }

/**
 * Text made of formatted pieces (`parts`, joined ~JOIN_PARTS at a time) and ranges of bytes that exist already,
 * written into one buffer at the end. `pos` counts characters of the pieces and bytes of the ranges.
 */
export class TextPieces {
  readonly parts: string[] = [];
  private readonly pieces: Array<string | TextRange> = [];
  private last: TextRange | undefined;
  private counted = 0;
  private len = 0;

  /** Characters and bytes so far. */
  get pos(): number {
    this.count();
    return this.len;
  }

  private count(): void {
    const parts = this.parts;
    for (let k = this.counted; k < parts.length; k++) this.len += parts[k].length;
    this.counted = parts.length;
  }

  /** Whether the text so far ends with a range of `buf` ending at `at`. */
  continues(buf: Buffer, at: number): boolean {
    return this.parts.length === 0 && this.last !== undefined && this.last.buf === buf && this.last.end === at;
  }

  /** Bytes `buf[start, end)`: the last range grows when it ends at `start`. */
  range(buf: Buffer, start: number, end: number): void {
    this.count();
    if (this.continues(buf, start)) {
      this.last!.end = end;
    } else {
      this.join();
      this.pieces.push(this.last = { buf, start, end });
    }
    this.len += end - start;
  }

  /** Join the pieces when there are enough of them. */
  cut(): void {
    if (this.parts.length >= JOIN_PARTS) this.join();
  }

  private join(): void {
    if (!this.parts.length) return;
    this.count();
    this.pieces.push(this.parts.join(''));
    this.parts.length = 0;
    this.counted = 0;
    this.last = undefined;
  }

  /** The text as buffers: formatted pieces encoded, ranges as views of their buffers. */
  buffers(): Uint8Array[] {
    this.join();
    return this.pieces.map((t) => (typeof t === 'string' ? Buffer.from(t) : t.buf.subarray(t.start, t.end)));
  }

  /**
   * The text in `into` when it fits, else in a new buffer of its size; `ascii`: every piece was ASCII (then `pos`
   * values were byte offsets).
   */
  write(into?: Buffer): { buf: Buffer; len: number; ascii: boolean } {
    const { bytes, chars } = this.size();
    const buf = into && into.length >= bytes ? into : Buffer.allocUnsafeSlow(bytes);
    this.writeAt(buf, 0);
    return { buf, len: bytes, ascii: bytes === chars };
  }

  /** The text's length in bytes, and in characters of the pieces and bytes of the ranges. */
  size(): { bytes: number; chars: number } {
    this.join();
    let bytes = 0;
    let chars = 0;
    for (const t of this.pieces) {
      if (typeof t === 'string') { bytes += Buffer.byteLength(t); chars += t.length; } else { bytes += t.end - t.start; chars += t.end - t.start; }
    }
    return { bytes, chars };
  }

  /** Write the text into `buf` at `off` (it must fit: see size); returns its length in bytes. */
  writeAt(buf: Buffer, off: number): number {
    this.join();
    const from = off;
    for (const t of this.pieces) off += typeof t === 'string' ? writeUtf8(buf, t, off) : t.buf.copy(buf, off, t.start, t.end);
    return off - from;
  }
}

/**
 * A buffer that text is appended to a few records at a time (a worker writes a chunk's records as it goes, so they
 * need not all live at once: see worker.ts): `into` while the text fits, then a new buffer twice as large holding the
 * text so far. `ascii`: every byte so far came from an ASCII piece or a range (offsets counted in characters are
 * bytes).
 */
export class TextOut {
  len = 0;
  ascii = true;
  buf: Buffer;
  constructor(readonly into?: Buffer) {
    this.buf = into ?? Buffer.allocUnsafeSlow(1 << 16);
  }

  append(text: TextPieces): void {
    const { bytes, chars } = text.size();
    if (this.len + bytes > this.buf.length) {
      const b = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.len + bytes));
      this.buf.copy(b, 0, 0, this.len);
      this.buf = b;
    }
    this.len += text.writeAt(this.buf, this.len);
    if (bytes !== chars) this.ascii = false;
  }

  /** The text: in `into`, or in a buffer of exactly its length (a result a worker posts is copied whole). */
  text(): Buffer {
    if (this.buf === this.into || this.buf.length === this.len) return this.buf;
    const b = Buffer.allocUnsafeSlow(this.len);
    this.buf.copy(b, 0, 0, this.len);
    return b;
  }
}

/**
 * formatRecordsToBuffer a few records at a time: records written as they come (`add`), a blank line between them,
 * into a TextOut.
 */
export class RecordsText {
  readonly out: TextOut;
  private n = 0;
  constructor(private readonly wrap: number, into?: Buffer, private readonly raw?: RawSource) {
    this.out = new TextOut(into);
  }

  add(records: LdifRecord[]): void {
    if (!records.length) return;
    const text = piecesOf(records, this.wrap, this.raw, this.n > 0);
    this.n += records.length;
    this.out.append(text);
  }
}

/**
 * Text from formatRecordsToBuffer without its first `k` records: records are separated by exactly one blank line and
 * hold none (a value with a line break is written base64), so the k-th `\n\n` ends the k-th record.
 */
export function dropFormattedRecords(text: Uint8Array, k: number): Uint8Array {
  const b = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  let pos = 0;
  for (let i = 0; i < k; i++) {
    const at = b.indexOf('\n\n', pos, 'latin1');
    if (at < 0) return text.subarray(text.byteLength);
    pos = at + 2;
  }
  return text.subarray(pos);
}
