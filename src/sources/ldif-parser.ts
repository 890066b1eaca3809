/**
 * The LDIF parsing engine (RFC 2849 and what real exports do beyond it). It knows nothing about streams: feed it text
 * with `push()` and `end()`, collect records and rejects. The stream wrapper is ldif-file.ts.
 *
 * Input text is "binary" (latin1) text: one char per byte. Lines are split and unfolded on that text, so a fold in the
 * middle of a multi-byte UTF-8 character (OpenLDAP folds by bytes) re-joins correctly; values are decoded as UTF-8 only
 * after unfolding. A value given in base64 that is not valid UTF-8 stays bytes (Uint8Array), byte for byte.
 *
 * A malformed record becomes one Reject (code, message, file, line, DN when known, the raw record text) and reading
 * goes on with the next record. Only damage that makes record boundaries unknowable (a NUL byte: not a text file; a
 * record larger than `maxRecordBytes`) is fatal.
 */
import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { LdapflowError } from '../errors.js';
import { rememberBase64 } from '../entry.js';
import { internString, ownString, utf8Of, writeBase64 } from '../strings.js';
import type {
  Attribute, ChangeRecord, Control, Entry, LdifRecord, Modification, ModOp, Origin, Reject, Value,
} from '../entry.js';

export type ParseMode = 'auto' | 'entries' | 'changes';

export interface ParseOptions {
  /** Name used in origins and messages (a path, `-`). */
  file?: string;
  /** auto: each record is a change record exactly when it has `changetype:`. entries: changetype is an attribute.
   * changes: every record must be a change record. Default auto. */
  mode?: ParseMode;
  /** Resolves a `:<` URL to bytes. Default: `file://` URLs are read from disk, other schemes are an error. */
  resolveUrl?: (url: string) => Uint8Array;
  /** Largest record in bytes before the input is judged not to be LDIF (default 256 MiB). */
  maxRecordBytes?: number;
  /** Note where attributes' lines are in the input, when written as a writer folding at `spans.wrap` would write
   * them (see RawSpans). The input's offsets count from the first byte pushed. */
  rawSpans?: RawSpans;
}

/**
 * Where the lines of parsed attributes are in the input, for a writer that copies them instead of writing the values
 * again (text-record.ts). An attribute gets a span (its `raw`) only when its lines are together in the input and each
 * is exactly what the writer, folding at `wrap`, makes of its value, as far as the lines show: `name: value` with one
 * space, or `name:: base64` with one space and canonical base64 (padded, no stray bits), and folded where the writer
 * folds. The rest the writer checks on the values themselves when it uses a span: each plain one must be a SAFE-STRING
 * it would write plain, each base64 one a value it would write base64 (bytes, or text that is not a SAFE-STRING); and
 * the attribute must still hold the very values array and name it had when parsed (stages never change an attribute
 * in place: a changed attribute is a new object, see fix-schema.ts).
 */
export class RawSpans {
  n = 0;
  /** Offset of the newline before the attribute's first line. */
  start = new Int32Array(1024);
  /** Offset just past its last line (that line's newline, or the end of the input). */
  end = new Int32Array(1024);
  /** 1: every line plain; 2: every line base64. */
  kind = new Uint8Array(1024);
  /** Per span, the attribute's values array and name as parsed; dropped (undefined) once its records are written. */
  vals: Array<Value[] | undefined> = [];
  names: Array<string | undefined> = [];
  constructor(readonly wrap: number) {}

  add(start: number, end: number, kind: number, name: string, vals: Value[]): number {
    const i = this.n++;
    if (i === this.start.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(2 * a.length); b.set(a); return b; };
      this.start = grow(this.start);
      this.end = grow(this.end);
      this.kind = grow(this.kind);
    }
    this.start[i] = start;
    this.end[i] = end;
    this.kind[i] = kind;
    this.vals[i] = vals;
    this.names[i] = name;
    return i;
  }
}

/** Input a writer copies attribute lines from: the bytes a reader read (`src`) and the spans it noted in them. */
export interface RawSource {
  spans: RawSpans;
  src: Buffer;
}

export interface ParseOutput {
  records: LdifRecord[];
  rejects: Reject[];
}

/** Thrown when a record is malformed; caught per record and turned into a Reject. */
class RecordError extends Error {
  constructor(readonly code: string, message: string, readonly line: number) {
    super(message);
  }
}

const ATTR_DESC = /^[A-Za-z0-9][A-Za-z0-9-]*(?:\.[0-9]+)*(?:;[A-Za-z0-9-]+)*$/;
const NON_ASCII = /[\x80-\xff]/;
/**
 * Whether a string is pure ASCII: its UTF-8 length is its length. A native scan, several times faster than a regex
 * over a 64 KiB chunk (measured 11 ms vs 110 ms for 178 MB); a char above 0xff counts as non-ASCII too, which only
 * costs a latin1ToUtf8 that finds nothing to decode.
 */
const isAscii = (s: string): boolean => Buffer.byteLength(s, 'utf8') === s.length;
let scratch = Buffer.allocUnsafe(4096);
const latin1ToUtf8 = (s: string): string => (NON_ASCII.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s);

function defaultResolveUrl(url: string): Uint8Array {
  if (!/^file:/i.test(url)) {
    throw new RecordError('LDIF_URL_UNSUPPORTED', `URL scheme not supported (only file://): "${url}"`, 0);
  }
  let path: string;
  try {
    path = fileURLToPath(url.replace(/^file:\/*/i, 'file:///'));
  } catch {
    throw new RecordError('LDIF_URL_INVALID', `invalid file URL "${url}"`, 0);
  }
  try {
    return readFileSync(path);
  } catch (err) {
    throw new RecordError('LDIF_URL_UNREADABLE', `cannot read "${url}": ${(err as Error).message}`, 0);
  }
}

interface Line {
  text: string;
  line: number;
}

export class LdifParser {
  readonly file: string;
  readonly mode: ParseMode;
  private readonly resolveUrl: (url: string) => Uint8Array;
  private readonly maxRecordBytes: number;
  /**
   * The unfinished end of the input: the start of a record whose end has not arrived (its last line may be partial).
   * Kept as pieces and joined only when a chunk brings a record boundary, so a huge record is never re-copied per chunk.
   */
  private pieces: string[] = [];
  private piecesLen = 0;
  /** Whether every piece is pure ASCII (then no value of the record needs UTF-8 decoding). */
  private piecesAscii = true;
  /** A CR at the very end of the last chunk, waiting to see whether an LF follows. */
  private pendingCR = false;
  /** Lines consumed so far. */
  lineNo = 0;
  /** Records seen (parsed or rejected), used as the record index. */
  recordCount = 0;
  private sawRecord = false;
  /** Whether the record being parsed is pure ASCII (then no value needs UTF-8 decoding). */
  private recordAscii = true;
  /** Attribute descriptions of the previous plain entry by line position, and their lower-cased keys: exports repeat
   * the same shape, so most names are recognized in place without cutting a string or hashing it. */
  private shapeNames: string[] = [];
  private shapeKeys: string[] = [];
  /** Whether the previous plain entry's line at that position was its attribute's first; and its number of lines. */
  private shapeFirst: boolean[] = [];
  private shapeLines = 0;
  /** Physical lines of the last record the fast path took. */
  private fastLines = 0;
  private readonly rawSpans: RawSpans | undefined;
  /** Characters (bytes) pushed so far; once a CR was dropped, text offsets are no longer input offsets (-1). */
  private consumed = 0;
  /** Input offset of `pieces[0]`, of the text being scanned; -1 when unknown (no raw spans then). */
  private piecesBase = -1;
  private curBase = -1;

  constructor(opts: ParseOptions = {}) {
    this.file = opts.file ?? '<input>';
    this.mode = opts.mode ?? 'auto';
    this.resolveUrl = opts.resolveUrl ?? defaultResolveUrl;
    this.maxRecordBytes = opts.maxRecordBytes ?? 256 * 1024 * 1024;
    this.rawSpans = opts.rawSpans;
    if (!this.rawSpans) this.consumed = -1;
  }

  /** Feed latin1 text (one char per byte). Complete records go to `out`. */
  push(text: string, out: ParseOutput): void {
    const nul = text.indexOf('\0');
    if (nul >= 0) {
      throw new LdapflowError('LDIF_NOT_TEXT', 'input holds a NUL byte: not an LDIF text file', {
        file: this.file, line: this.lineNo + 1 + countLines(this.pieces.join('')) + countLines(text.slice(0, nul)),
      });
    }
    let chunk = text;
    let base = this.consumed;
    if (base >= 0) this.consumed += text.length;
    if (this.pendingCR) { chunk = '\r' + chunk; this.pendingCR = false; }
    if (chunk.indexOf('\r') >= 0) {
      if (base >= 0) { this.consumed = base = this.piecesBase = -1; } // offsets shift from here on
      // CRLF (or mixed) line ends: make them LF; a CR at the very end waits for its LF in the next chunk.
      chunk = chunk.replace(/\r\n/g, '\n');
      if (chunk.charCodeAt(chunk.length - 1) === 13) { this.pendingCR = true; chunk = chunk.slice(0, -1); }
    }
    if (chunk.length === 0) return;
    // Non-ASCII is looked for once per chunk; records of ASCII chunks need no UTF-8 decoding at all.
    const chunkAscii = isAscii(chunk);
    if (this.pieces.length && !mayEndRecord(chunk)) {
      this.pieces.push(chunk);
      this.piecesLen += chunk.length;
      if (!chunkAscii) this.piecesAscii = false;
      if (this.piecesLen > this.maxRecordBytes) this.tooBig();
      return;
    }
    let from = 0;
    if (this.pieces.length) {
      // Join only the unfinished record's text: up to the chunk's first blank line (or all of it when a line of
      // spaces ends the record), not the whole chunk.
      const sep = chunk.indexOf('\n\n');
      const k = sep < 0 ? chunk.length : sep + 2;
      this.pieces.push(k === chunk.length ? chunk : chunk.slice(0, k));
      const headAscii = chunkAscii && this.piecesAscii;
      this.scan(this.piecesBase, this.takePieces(), 0, headAscii, out, false);
      if (k === chunk.length) return;
      from = k; // the head ended with a blank line: nothing of it is left waiting
    }
    // The chunk itself, not a slice of it: the fast path reads it in place, and a flat string reads faster.
    this.scan(base, chunk, from, chunkAscii, out, false);
  }

  /** End of input: the last record (with or without a final newline). */
  end(out: ParseOutput): void {
    this.pendingCR = false; // a CR ending the input ends its last line
    if (!this.pieces.length) return;
    const ascii = this.piecesAscii;
    this.scan(this.piecesBase, this.takePieces(), 0, ascii, out, true);
  }

  /** The unfinished text, joined; nothing is left waiting. */
  private takePieces(): string {
    const data = this.pieces.join('');
    this.pieces = [];
    this.piecesLen = 0;
    this.piecesAscii = true;
    return data;
  }

  /**
   * Records of `data` from `pos` up to its last record boundary; the rest waits in `pieces` (or, at the end, is the
   * last record). `base`: the input offset of `data[0]` (-1: unknown).
   */
  private scan(base: number, data: string, pos: number, ascii: boolean, out: ParseOutput, last: boolean): void {
    this.curBase = base;
    for (;;) {
      while (data.charCodeAt(pos) === 10) { pos++; this.lineNo++; }
      // Cut at blank lines with a native search; blank lines holding spaces are handled in block().
      const sep = data.indexOf('\n\n', pos);
      if (sep < 0) break;
      // In a chunk with non-ASCII text, each record is looked at alone: most still need no UTF-8 decoding.
      this.block(data, pos, sep, ascii || isAscii(data.slice(pos, sep)), out);
      pos = sep + 1;
    }
    if (pos >= data.length) return;
    let rest = pos ? data.slice(pos) : data;
    let restBase = base < 0 ? -1 : base + pos;
    if (last) {
      this.curBase = restBase;
      if (rest.charCodeAt(rest.length - 1) === 10) rest = rest.slice(0, -1);
      this.block(rest, 0, rest.length, ascii || isAscii(rest), out);
      return;
    }
    if (BLANKISH_LINE.test(rest)) {
      // Lines holding only spaces end records too: hand over everything up to the last complete one.
      const lines = rest.split('\n');
      let j = lines.length - 2;
      while (j >= 0 && !isBlankish(lines[j])) j--;
      if (j >= 0) {
        this.lines(lines.slice(0, j + 1), out);
        rest = lines.slice(j + 1).join('\n');
        restBase = -1;
      }
    }
    this.pieces = [rest];
    this.piecesBase = restBase;
    this.piecesLen = rest.length;
    this.piecesAscii = ascii || isAscii(rest);
    if (this.piecesLen > this.maxRecordBytes) this.tooBig();
  }

  /**
   * Complete lines (`data` from `from` to `to`) without an empty line among them (no trailing newline); lines holding
   * only spaces end records.
   */
  private block(data: string, from: number, to: number, ascii: boolean, out: ParseOutput): void {
    const start = this.lineNo + 1;
    if (this.mode !== 'changes' && (data.charCodeAt(from) | 32) === 100 /* d */) {
      // Most records: a plain entry, parsed in place (it declines anything else, blank-looking lines included).
      const e = this.fastEntry(data, from, to, ascii, start);
      if (e) {
        this.sawRecord = true;
        out.records.push(e);
        this.lineNo += this.fastLines;
        return;
      }
    }
    const text = data.slice(from, to);
    if (BLANKISH_LINE.test(text)) this.lines(text.split('\n'), out);
    else this.lineNo += this.recordLines(text.split('\n'), start, ascii, out);
  }

  /** Complete lines, some of which may hold only spaces (each ends the record before it). */
  private lines(lines: string[], out: ParseOutput): void {
    let from = 0;
    for (let i = 0; i <= lines.length; i++) {
      if (i < lines.length && !isBlankish(lines[i])) continue;
      if (i > from) {
        const rec = lines.slice(from, i);
        this.lineNo += this.recordLines(rec, this.lineNo + 1, !rec.some((l) => NON_ASCII.test(l)), out);
      }
      if (i < lines.length) this.lineNo++;
      from = i + 1;
    }
  }

  /** One record's lines starting on line `start` (the general path); returns its number of lines. */
  private recordLines(lines: string[], start: number, ascii: boolean, out: ParseOutput): number {
    this.parseRecord(lines, start, out, !ascii);
    return lines.length;
  }

  /**
   * The common case without building lines: a plain entry (no comment, no change record, no URL value, nothing
   * malformed). Returns null, having changed nothing, for anything else: the general path then parses the record
   * and reports its errors.
   */
  private fastEntry(t: string, p: number, n: number, ascii: boolean, start: number): Entry | null {
    const names = this.shapeNames;
    const keys = this.shapeKeys;
    const firsts = this.shapeFirst;
    // Lines 0..i-1 of the previous entry, when this entry's names so far are the same (then so is which of its
    // attributes are new at line i). Reset first: a declined record may have changed the shape halfway.
    const prevLines = this.shapeLines;
    this.shapeLines = 0;
    let same = true;
    const attrs = new Map<string, Attribute>();
    let dn = '';
    let i = 0;
    let lines = 0;
    // Raw spans (RawSpans): whether each line is folded as the writer folds, and the attribute of the line before.
    const spans = this.curBase >= 0 ? this.rawSpans : undefined;
    const wrap = spans ? spans.wrap : 0;
    let prevA: Attribute | undefined;
    while (p < n) {
      let e = t.indexOf('\n', p);
      if (e < 0) e = n;
      lines++;
      const p0 = p;
      let s = t;
      let from = p;
      let to = e;
      let fits = true;
      if (e < n && t.charCodeAt(e + 1) === 32) {
        // A folded line: join its continuation lines.
        let joined = t.slice(p, e);
        let q = e + 1;
        // The writer's folds: a first line of `wrap` characters, continuation lines of `wrap` (space included) but the
        // last, which holds 1 to wrap - 1 characters after its space.
        fits = wrap > 0 && e - p === wrap;
        let cont = -1;
        while (q < n && t.charCodeAt(q) === 32) {
          let e2 = t.indexOf('\n', q);
          if (e2 < 0) e2 = n;
          const c1 = t.charCodeAt(q + 1);
          if ((e2 === q + 1 || c1 <= 32 || c1 === 0xa0) && isBlankish(t.slice(q, e2))) return null; // a blank-looking line ends the record
          joined += t.slice(q + 1, e2);
          lines++;
          if (cont >= 0 && cont !== wrap) fits = false;
          cont = e2 - q;
          q = e2 + 1;
        }
        if (cont < 2 || cont > wrap) fits = false;
        s = joined;
        from = 0;
        to = joined.length;
        e = q - 1;
      } else if (wrap > 0 && e - p > wrap) {
        fits = false;
      }
      const c0 = s.charCodeAt(from);
      if (c0 === 35 /* # */ || c0 === 9 /* a tab: maybe a blank-looking line */) return null;
      let c: number;
      let name: string;
      let key: string;
      const known = names[i];
      // The previous entry's name at this position, followed by the colon (a name holds none, so it is the first):
      // found without searching for the colon.
      if (known !== undefined && from + known.length < to && s.charCodeAt(from + known.length) === 58 && sameAt(s, from, known)) {
        c = from + known.length;
        name = known;
        key = keys[i];
      } else {
        c = s.indexOf(':', from);
        if (c < 0 || c >= to) return null;
        const len = c - from;
        let h = Math.imul(len ^ (s.charCodeAt(from) << 5) ^ (s.charCodeAt(c - 1) << 12) ^ (s.charCodeAt(from + (len >> 1)) << 19), 0x9e3779b1) >>> (32 - NAME_BITS);
        const tab = NAME_TAB;
        if (!tabHolds(s, from, len, h)) h ^= 1; // the slot's pair: two names with one slot do not push each other out
        if (tabHolds(s, from, len, h)) {
          name = tab.names[h]!;
          key = tab.keys[h];
        } else {
          const n = nameOf(s.slice(from, c));
          if (n === null) return null;
          name = n.name;
          key = n.key;
          // Into the pair's free slot, if any. (Computed without a branch that runs only later: a first run of code
          // after fastEntry was optimized throws its optimized code away.)
          const at = h ^ (tab.names[h] !== undefined && tab.names[h ^ 1] === undefined ? 1 : 0);
          tab.names[at] = name;
          tab.keys[at] = key;
        }
        names[i] = name;
        keys[i] = key;
        same = false;
      }
      let v: Value;
      // Raw spans: 1 a plain line, 2 a base64 line, written as the writer writes them; 0 not.
      let lineKind = 0;
      const f = s.charCodeAt(c + 1);
      if (f === 58 /* : */) {
        let k = c + 2;
        while (k < to && s.charCodeAt(k) === 32) k++;
        const d = decodeBase64(s.slice(k, to));
        if (d === null) return null;
        v = d;
        if (spans !== undefined && fits && k === c + 3 && canonicalBase64(s, k, to)) lineKind = 2;
      } else if (f === 60 /* < */) {
        return null;
      } else {
        let k = c + 1;
        while (k < to && s.charCodeAt(k) === 32) k++;
        const raw = s.slice(k, to);
        v = ascii ? raw : latin1ToUtf8(raw);
        if (spans !== undefined && fits && (to === c + 1 || (k === c + 2 && k < to))) lineKind = 1;
      }
      if (i === 0) {
        if (key !== 'dn' || typeof v !== 'string') return null;
        dn = v.trim() === '' ? '' : v;
      } else {
        if (key === 'dn') return null;
        if (i === 1 && this.mode !== 'entries' && (key === 'changetype' || key === 'control')) return null;
        // The attribute's first line, as in the previous entry, needs no lookup.
        let a = same && i < prevLines && firsts[i] ? undefined : attrs.get(key);
        if (a) {
          a.values.push(v);
          if (spans !== undefined && a.raw! >= 0) {
            // Its lines stay one span while they follow each other, each written as the writer writes it.
            if (a === prevA && lineKind === spans.kind[a.raw!] && name === a.name) spans.end[a.raw!] = this.curBase + e;
            else a.raw = -1;
          }
        } else {
          const values = [v];
          if (spans === undefined) a = { name, values };
          else a = { name, values, raw: lineKind === 0 ? -1 : spans.add(this.curBase + p0 - 1, this.curBase + e, lineKind, name, values) };
          attrs.set(key, a);
        }
        firsts[i] = a.values.length === 1;
        prevA = a;
      }
      i++;
      p = e + 1;
    }
    if (i === 0) return null;
    this.shapeLines = i;
    this.fastLines = lines;
    const e: Entry = { kind: 'entry', dn, attrs, origin: { file: this.file, line: start, index: this.recordCount++ } };
    return e;
  }

  private tooBig(): never {
    throw new LdapflowError(
      'LDIF_RECORD_TOO_LARGE',
      `record starting here exceeds ${this.maxRecordBytes} bytes without a blank line: record boundaries are lost`,
      { file: this.file, line: this.lineNo + 1 },
    );
  }

  private parseRecord(lines: string[], start: number, out: ParseOutput, maybeNonAscii: boolean): void {
    this.recordAscii = true;
    if (maybeNonAscii) {
      for (let i = 0; i < lines.length; i++) if (NON_ASCII.test(lines[i])) { this.recordAscii = false; break; }
    }
    let logical: Line[];
    try {
      logical = this.unfold(lines, start);
    } catch (err) {
      this.rejectRaw(err, lines, start, undefined, out);
      return;
    }
    if (logical.length === 0) return; // only comments
    const first = this.sawRecord;
    this.sawRecord = true;
    // version-spec: only before the first record; alone or followed by the first record's lines.
    if (/^version\s*:/i.test(logical[0].text)) {
      if (first) {
        this.rejectRaw(new RecordError('LDIF_VERSION_MISPLACED', '"version:" is only allowed before the first record', logical[0].line), lines, start, undefined, out);
        return;
      }
      const v = logical[0].text.slice(logical[0].text.indexOf(':') + 1).trim();
      if (v !== '1') {
        throw new LdapflowError('LDIF_UNSUPPORTED_VERSION', `unsupported LDIF version "${v}" (only 1)`, { file: this.file, line: logical[0].line });
      }
      logical.shift();
      if (logical.length === 0) { this.sawRecord = false; return; }
    }
    const index = this.recordCount++;
    const origin: Origin = { file: this.file, line: logical[0].line, index };
    let dn: string | undefined;
    try {
      const l0 = logical[0];
      const [name, value] = this.splitLine(l0);
      if (name.toLowerCase() !== 'dn') throw new RecordError('LDIF_MISSING_DN', `record does not start with "dn:" (found "${truncate(name)}:")`, l0.line);
      dn = this.valueAsText(value, l0.line, 'DN');
      if (dn.trim() === '') dn = '';
      out.records.push(this.record(dn, logical, origin));
    } catch (err) {
      this.rejectRaw(err, lines, start, dn, out, index);
    }
  }

  private rejectRaw(err: unknown, lines: string[], start: number, dn: string | undefined, out: ParseOutput, index?: number): void {
    if (!(err instanceof RecordError)) throw err;
    if (index === undefined) index = this.recordCount++;
    const line = err.line || start;
    out.rejects.push({
      code: err.code,
      message: err.message,
      dn,
      origin: { file: this.file, line, index },
      raw: latin1ToUtf8(lines.join('\n')),
    });
  }

  /** Join continuation lines, drop comments (with their continuations). */
  private unfold(lines: string[], start: number): Line[] {
    const out: Line[] = [];
    let inComment = false;
    let cur: string | null = null; // the logical line being built
    let parts: string[] | null = null; // its pieces, only once it is folded
    let curLine = 0;
    for (let i = 0; i < lines.length; i++) {
      const t = lines[i];
      const c = t.charCodeAt(0);
      if (c === 32) {
        if (inComment) continue;
        if (cur === null) throw new RecordError('LDIF_BAD_CONTINUATION', 'continuation line (starting with a space) with no line to continue', start + i);
        (parts ??= [cur]).push(t.slice(1));
        continue;
      }
      if (cur !== null) { out.push({ text: parts ? parts.join('') : cur, line: curLine }); cur = null; parts = null; }
      if (c === 35 /* # */) { inComment = true; continue; }
      inComment = false;
      cur = t;
      curLine = start + i;
    }
    if (cur !== null) out.push({ text: parts ? parts.join('') : cur, line: curLine });
    return out;
  }

  /** `name: value` -> [name, rest starting at the colon's follower]. The rest keeps its `:` or `<` marker. */
  private splitLine(l: Line): [string, string] {
    const i = colonOf(l);
    return [l.text.slice(0, i), l.text.slice(i + 1)];
  }

  /** Decode a value spec (what follows the first colon) to a Value. */
  private value(spec: string, line: number): Value {
    const c = spec.charCodeAt(0);
    if (c === 58 /* : */) {
      const b64 = spec.slice(1).trimStart();
      const v = decodeBase64(b64);
      if (v === null) throw new RecordError('LDIF_INVALID_BASE64', `invalid base64 value "${truncate(latin1ToUtf8(b64))}"`, line);
      return v;
    }
    if (c === 60 /* < */) {
      const url = spec.slice(1).trim();
      let bytes: Uint8Array;
      try {
        bytes = this.resolveUrl(url);
      } catch (err) {
        if (err instanceof RecordError) throw new RecordError(err.code, err.message, line);
        throw new RecordError('LDIF_URL_UNREADABLE', `cannot read "${url}": ${(err as Error).message}`, line);
      }
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return isUtf8(buf) ? buf.toString('utf8') : bytes;
    }
    // FILL: zero or more spaces, then SAFE-STRING (raw UTF-8 accepted, as found in the wild).
    let k = 0;
    while (spec.charCodeAt(k) === 32) k++;
    const v = k ? spec.slice(k) : spec;
    return this.recordAscii ? v : latin1ToUtf8(v);
  }

  /** A value that must be text (DN, newrdn, changetype...). */
  private valueAsText(spec: string, line: number, what: string): string {
    const v = this.value(spec, line);
    if (typeof v !== 'string') throw new RecordError('LDIF_INVALID_UTF8', `${what} is not valid UTF-8`, line);
    return v;
  }

  /** The lower-cased key of an attribute description (nameOf); a record error when the description is invalid. */
  private lower(name: string): string {
    const n = nameOf(name);
    if (n === null) {
      throw new RecordError('LDIF_BAD_ATTRIBUTE', name === '' ? 'empty attribute description' : `invalid attribute description "${truncate(latin1ToUtf8(name))}"`, 0);
    }
    return n.key;
  }

  private attrName(name: string, line: number): string {
    try {
      return this.lower(name);
    } catch (err) {
      if (err instanceof RecordError) throw new RecordError(err.code, err.message, line);
      throw err;
    }
  }

  private record(dn: string, logical: Line[], origin: Origin): LdifRecord {
    let i = 1;
    const controls: Control[] = [];
    let changetype: string | undefined;
    if (this.mode !== 'entries') {
      for (; i < logical.length; i++) {
        const [name, spec] = this.splitLine(logical[i]);
        const lname = name.toLowerCase();
        if (lname === 'control') { controls.push(this.control(spec, logical[i].line)); continue; }
        if (lname === 'changetype') {
          changetype = this.valueAsText(spec, logical[i].line, 'changetype').trim();
          i++;
        }
        break;
      }
      if (controls.length && changetype === undefined) {
        throw new RecordError('LDIF_CONTROL_WITHOUT_CHANGETYPE', '"control:" lines must be followed by "changetype:"', logical[i - 1].line);
      }
    }
    if (changetype === undefined) {
      if (this.mode === 'changes') throw new RecordError('LDIF_MISSING_CHANGETYPE', 'change record has no "changetype:" line', logical[Math.min(1, logical.length - 1)].line);
      const e: Entry = { kind: 'entry', dn, attrs: this.attributes(logical, 1), origin };
      return e;
    }
    const base = { kind: 'change' as const, dn, origin, controls };
    switch (changetype.toLowerCase()) {
      case 'add': {
        if (i >= logical.length) throw new RecordError('LDIF_ADD_WITHOUT_ATTRIBUTES', 'add record has no attributes', logical[i - 1].line);
        return { ...base, changetype: 'add', attrs: this.attributes(logical, i) };
      }
      case 'delete':
        if (i < logical.length) throw new RecordError('LDIF_DELETE_WITH_CONTENT', 'delete record must have no lines after "changetype: delete"', logical[i].line);
        return { ...base, changetype: 'delete' };
      case 'modify':
        return { ...base, changetype: 'modify', mods: this.mods(logical, i) };
      case 'modrdn':
      case 'moddn':
        return { ...base, ...this.moddn(logical, i), changetype: changetype.toLowerCase() as 'modrdn' | 'moddn' };
      default:
        throw new RecordError('LDIF_UNKNOWN_CHANGETYPE', `unknown changetype "${truncate(changetype)}" (add, delete, modify, modrdn, moddn)`, logical[i - 1].line);
    }
  }

  private attributes(logical: Line[], from: number): Map<string, Attribute> {
    const attrs = new Map<string, Attribute>();
    for (let i = from; i < logical.length; i++) {
      const l = logical[i];
      const t = l.text;
      const c = colonOf(l);
      const name = t.slice(0, c);
      const key = this.attrName(name, l.line);
      if (key === 'dn') throw new RecordError('LDIF_DN_INSIDE_RECORD', 'a second "dn:" line inside a record (missing blank line between records?)', l.line);
      const f = t.charCodeAt(c + 1);
      let v: Value;
      if (f === 32 || Number.isNaN(f) || (f !== 58 && f !== 60)) {
        // Plain value: skip FILL spaces and take the rest in one slice.
        let k = c + 1;
        while (t.charCodeAt(k) === 32) k++;
        const raw = t.slice(k);
        v = this.recordAscii ? raw : latin1ToUtf8(raw);
      } else {
        v = this.value(t.slice(c + 1), l.line);
      }
      const a = attrs.get(key);
      if (a) a.values.push(v);
      else attrs.set(key, { name, values: [v] });
    }
    return attrs;
  }

  private mods(logical: Line[], from: number): Modification[] {
    const mods: Modification[] = [];
    let i = from;
    if (i >= logical.length) throw new RecordError('LDIF_MODIFY_WITHOUT_CHANGES', 'modify record has no changes', logical[i - 1].line);
    while (i < logical.length) {
      const l = logical[i];
      const [opName, spec] = this.splitLine(l);
      const op = opName.toLowerCase();
      if (op !== 'add' && op !== 'delete' && op !== 'replace' && op !== 'increment') {
        throw new RecordError('LDIF_UNKNOWN_MODOP', `unknown modify operation "${truncate(latin1ToUtf8(opName))}" (add, delete, replace, increment)`, l.line);
      }
      const attr = this.valueAsText(spec, l.line, 'attribute name').trim();
      const attrKey = this.attrName(attr, l.line);
      const values: Value[] = [];
      let name = attr;
      i++;
      let dash = false;
      let binary = false;
      for (; i < logical.length; i++) {
        const vl = logical[i];
        if (vl.text === '-' || vl.text.trim() === '-') { dash = true; break; } // "-" with trailing spaces tolerated
        const c = colonOf(vl);
        const vname = vl.text.slice(0, c);
        const vkey = this.attrName(vname, vl.line);
        if (vkey !== attrKey) {
          // "add: x" right after values with no "-": tolerated as the start of the next change.
          if (isModOpLine(vkey) && values.length > 0) break;
          if (!sameOptionsIgnoringBinary(vkey, attrKey)) {
            throw new RecordError('LDIF_MOD_ATTRIBUTE_MISMATCH', `value line for "${latin1ToUtf8(vname)}" inside the "${op}: ${attr}" change`, vl.line);
          }
        }
        // A value line may add ";binary" to the change's attribute (it then names the change), but all values must agree.
        const addsBinary = vkey !== attrKey && hasBinaryOption(vkey) && !hasBinaryOption(attrKey);
        if (values.length === 0) {
          if (addsBinary) name = vname;
          binary = addsBinary;
        } else if (addsBinary !== binary) {
          throw new RecordError('LDIF_MOD_ATTRIBUTE_MISMATCH', `value line for "${latin1ToUtf8(vname)}" changes the ";binary" option inside the "${op}: ${attr}" change`, vl.line);
        }
        values.push(this.value(vl.text.slice(c + 1), vl.line));
      }
      if (dash) i++;
      if (op === 'add' && values.length === 0) throw new RecordError('LDIF_MOD_ADD_WITHOUT_VALUES', `"add: ${attr}" has no values`, l.line);
      if (op === 'increment' && values.length !== 1) throw new RecordError('LDIF_MOD_INCREMENT_VALUES', `"increment: ${attr}" needs exactly one value (RFC 4525), found ${values.length}`, l.line);
      mods.push({ op: op as ModOp, name, values });
    }
    return mods;
  }

  private moddn(logical: Line[], from: number): { newrdn: string; deleteoldrdn: boolean; newsuperior: string | null } {
    const want = (k: number, key: string): [string, Line] => {
      const l = logical[k];
      if (!l) throw new RecordError('LDIF_MODDN_MISSING', `modrdn record has no "${key}:" line`, logical[k - 1].line);
      const [name, spec] = this.splitLine(l);
      if (name.toLowerCase() !== key) throw new RecordError('LDIF_MODDN_UNEXPECTED', `expected "${key}:" but found "${truncate(latin1ToUtf8(name))}:"`, l.line);
      return [this.valueAsText(spec, l.line, key), l];
    };
    const [newrdn, l1] = want(from, 'newrdn');
    if (newrdn.trim() === '') throw new RecordError('LDIF_MODDN_EMPTY_NEWRDN', '"newrdn:" is empty', l1.line);
    const [del, l2] = want(from + 1, 'deleteoldrdn');
    if (del !== '0' && del !== '1') throw new RecordError('LDIF_MODDN_BAD_DELETEOLDRDN', `"deleteoldrdn:" must be 0 or 1, found "${truncate(del)}"`, l2.line);
    let newsuperior: string | null = null;
    if (logical.length > from + 2) {
      [newsuperior] = want(from + 2, 'newsuperior');
      if (logical.length > from + 3) throw new RecordError('LDIF_MODDN_EXTRA_LINE', 'unexpected line after "newsuperior:"', logical[from + 3].line);
    }
    return { newrdn, deleteoldrdn: del === '1', newsuperior };
  }

  private control(spec: string, line: number): Control {
    let text: string;
    if (spec.startsWith(':')) {
      // UnboundID extension: the whole control spec in base64.
      const v = this.value(spec, line);
      if (typeof v !== 'string') throw new RecordError('LDIF_BAD_CONTROL', 'base64 control spec is not text', line);
      text = v;
    } else {
      text = spec;
    }
    const m = /^\s*([0-9]+(?:\.[0-9]+)+)(?:\s+(true|false))?\s*(?:(:.*))?$/i.exec(text);
    if (!m) {
      throw new RecordError('LDIF_BAD_CONTROL', text.trim() === '' ? 'empty "control:" line' : `invalid control "${truncate(latin1ToUtf8(text.trim()))}" (want: OID [true|false] [: value])`, line);
    }
    let value: Value | null = null;
    if (m[3] !== undefined) {
      const vs = m[3].slice(1);
      value = vs.startsWith(':') || vs.startsWith('<') ? this.value(vs, line) : latin1ToUtf8(vs.replace(/^ +/, ''));
    }
    return { oid: m[1], criticality: (m[2] ?? '').toLowerCase() === 'true', value };
  }
}

/** Index of the colon that ends a line's attribute description; a line without one is malformed. */
function colonOf(l: Line): number {
  const i = l.text.indexOf(':');
  if (i < 0) throw new RecordError('LDIF_MISSING_COLON', `line has no ":" ("${truncate(latin1ToUtf8(l.text))}")`, l.line);
  return i;
}

/** A line holding only spaces and tabs (ends a record, as real-world readers do). */
const BLANKISH_LINE = /(?:^|\n)[ \t][ \t\v\f\r\xa0]*(?:\n|$)/;
function isBlankish(t: string): boolean {
  const c = t.charCodeAt(0);
  return t.length === 0 || ((c === 32 || c === 9) && t.trim() === '');
}

/** Whether a chunk appended to an unfinished record could end it (or end a line of only spaces). */
function mayEndRecord(chunk: string): boolean {
  const c = chunk.charCodeAt(0);
  return c === 10 || c === 32 || c === 9 || chunk.indexOf('\n\n') >= 0 || BLANKISH_LINE.test(chunk);
}

/**
 * Attribute descriptions met by the readers of this thread (a worker makes a reader per chunk), as spelled and
 * lower-cased, both interned (strings.ts): equal names are one string object down the pipeline. null: not valid.
 */
const NAMES = new Map<string, { name: string; key: string } | null>();

function nameOf(raw: string): { name: string; key: string } | null {
  let n = NAMES.get(raw);
  if (n === undefined) {
    if (NAMES.size > 10000) NAMES.clear();
    n = ATTR_DESC.test(raw) ? { name: internString(raw), key: internString(raw.toLowerCase()) } : null;
    NAMES.set(n === null ? ownString(raw) : n.name, n);
  }
  return n;
}

/**
 * The same names by a hash of their length and three characters (a power of two of slots, in pairs): a line whose
 * name is not the previous entry's at that position (an entry with one more or one less attribute shifts every later
 * line) finds it here by comparing characters in place, without cutting the name out and looking it up.
 */
const NAME_BITS = 10;
const NAME_TAB = { names: new Array<string | undefined>(1 << NAME_BITS).fill(undefined), keys: new Array<string>(1 << NAME_BITS).fill('') };

/** Whether slot `h` of NAME_TAB holds the name `s[from, from + len)`. */
function tabHolds(s: string, from: number, len: number, h: number): boolean {
  const cand = NAME_TAB.names[h];
  return cand !== undefined && cand.length === len && sameAt(s, from, cand);
}

/** Whether `s` holds `word` at `at`: startsWith with a position, but compared in place (startsWith on a slice of the
 * input chunk was 10% of the fast path's time). */
function sameAt(s: string, at: number, word: string): boolean {
  for (let j = word.length - 1; j >= 0; j--) if (s.charCodeAt(at + j) !== word.charCodeAt(j)) return false;
  return true;
}

function hasBinaryOption(key: string): boolean {
  return key.includes(';binary');
}

function isModOpLine(key: string): boolean {
  return key === 'add' || key === 'delete' || key === 'replace' || key === 'increment';
}

/** Same base type and the same options, in any order, a `;binary` option aside. */
function sameOptionsIgnoringBinary(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = a.split(';');
  const pb = b.split(';');
  if (pa[0] !== pb[0]) return false;
  const oa = pa.slice(1).filter((o) => o !== 'binary').sort().join(';');
  const ob = pb.slice(1).filter((o) => o !== 'binary').sort().join(';');
  return oa === ob;
}

/**
 * A base64 value: text when it decodes to valid UTF-8, else bytes that remember their base64; null when it is not
 * valid base64. Decoded into a reused buffer: most base64 values are short UTF-8 text, and then no Buffer is allocated.
 */
function decodeBase64(b64: string): Value | null {
  // The reused buffer grows to 64 KiB at most: a larger value (a photo) gets a buffer of its own, not kept after.
  if (b64.length > scratch.length && b64.length <= 1 << 16) scratch = Buffer.allocUnsafe(b64.length);
  const buf = b64.length <= scratch.length ? scratch : Buffer.allocUnsafe(b64.length);
  const len = writeBase64(buf, b64);
  if (!validBase64(b64, len)) return null;
  // Valid UTF-8 is text; anything else (a photo, a certificate) stays bytes. Checked before decoding: decoding binary
  // as UTF-8 (a replacement character per bad byte) and throwing the text away was 15% of a worker's time.
  if (len <= 512) {
    // A short value (a name, a title) is decoded first: with no replacement character it was valid UTF-8, and the
    // view and the call isUtf8 needs are saved (callgrind: ~1,350 instructions a base64 value, a third of them those).
    const t = utf8Of(buf, 0, len);
    if (t.indexOf('\ufffd') < 0) return t;
    if (isUtf8(buf.subarray(0, len))) return t; // it holds U+FFFD itself
  } else if (isUtf8(buf.subarray(0, len))) return utf8Of(buf, 0, len);
  const bytes = new Uint8Array(len);
  bytes.set(buf.subarray(0, len));
  rememberBase64(bytes, b64);
  return bytes;
}

/**
 * Whether valid base64 `s[from, to)` is what Buffer's encoder makes of its bytes: padded to a multiple of 4, no bits
 * set past the last byte, not empty.
 */
function canonicalBase64(s: string, from: number, to: number): boolean {
  const n = to - from;
  if (n === 0 || n % 4 !== 0) return false;
  if (s.charCodeAt(to - 1) !== 61 /* = */) return true;
  const pad = s.charCodeAt(to - 2) === 61 ? 2 : 1;
  const c = s.charCodeAt(to - 1 - pad);
  const v = c >= 97 ? c - 71 : c >= 65 ? c - 65 : c >= 48 ? c + 4 : c === 43 ? 62 : 63;
  return (v & (pad === 1 ? 3 : 15)) === 0;
}

/**
 * Standard alphabet, padding only at the end, and a length that decodes whole (padding may be omitted), judged from
 * `decoded`, the bytes Buffer's decoder made of `b64`. That decoder skips a character outside the alphabet and stops
 * at an `=`: either way fewer bytes come out than the length promises (one skipped character always costs a byte at
 * the lengths that get this far). It takes the URL-safe `-` and `_` as well, so those are looked for. This replaced a
 * regular expression over every base64 value (3.5% of a worker's time); test/sources/base64-check.test.ts holds the
 * two to the same answers.
 */
export function validBase64(b64: string, decoded: number): boolean {
  let n = b64.length;
  if (n % 4 === 1) return false;
  let pad = 0;
  while (n > 0 && b64.charCodeAt(n - 1) === 61) { n--; pad++; }
  if (pad > 2 || (pad && b64.length % 4 !== 0)) return false;
  if (decoded !== Math.floor((n * 3) / 4)) return false;
  return b64.indexOf('-') < 0 && b64.indexOf('_') < 0;
}

function truncate(s: string, n = 60): string {
  return s.length > n ? s.slice(0, n) + '...' : s;
}

function countLines(s: string): number {
  let c = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) c++;
  return c;
}

/** Parse a whole LDIF text (a string, or bytes) at once. */
export function parseLdifText(input: string | Uint8Array, opts: ParseOptions = {}): ParseOutput {
  const text = typeof input === 'string' ? Buffer.from(input, 'utf8').toString('latin1') : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  const p = new LdifParser(opts);
  const out: ParseOutput = { records: [], rejects: [] };
  p.push(text, out);
  p.end(out);
  return out;
}

export type { ChangeRecord };
