/**
 * A compact wire form for records crossing a worker boundary. Structured-cloning Entry objects (a Map, an object and
 * an array per attribute) costs more per entry than the map stages themselves. Here all records of a batch become
 * one flat array of strings and numbers, which V8 clones in one tight loop (measured: ~3x cheaper than cloning the
 * entries, and cheaper than joining to one string with separators and splitting it again):
 *
 *   record := tag dn ndn category file line index nattrs (key name count value*)*
 *
 * tag `e` entry, `a` change add. `ndn`/`category` are `=` + text when set, `` when not. `file` is `` when it is the
 * batch's file; `line` is -1 without an origin. `name` is `` when it equals `key`. A string value is itself; a
 * binary value (Uint8Array) is a number: an index into `bins`, which holds its base64 (the source's own base64 when
 * the parser remembered it, so the writer's output stays byte-identical). Records this form does not carry (change
 * records other than add, records with controls) travel in `side`, structured-cloned, at their position.
 */
import { base64Of, rememberBase64, shiftedOrigin, type Attribute, type LdifRecord, type Origin, type Value } from '../entry.js';

export interface EncodedRecords {
  /** The records' fields, flat, in segments of whole records (see SEGMENT). */
  f: Array<Array<string | number>>;
  /** How many records `f` plus `side` hold. */
  n: number;
  /** Base64 of binary values, referenced from `f`. */
  bins: string[];
  /** Records that travel structured-cloned: [position, record]. */
  side: Array<[number, LdifRecord]>;
  /** The origin file most records share. */
  file: string;
}

/**
 * Fields per segment, about. An array past ~16k elements lives in V8's large-object space, and growing one there cost
 * ~130 ns per push on the 2-core VM (measured: 20k pushes 60 ns each, 35k 127 ns, 10k 5 ns), more than the whole rest
 * of the encoding; segments stay small.
 */
const SEGMENT = 8000;

/** Encode records (in order) to wire form. */
export function encodeRecords(records: LdifRecord[]): EncodedRecords {
  const file = records.length && records[0].origin ? records[0].origin.file : '';
  const bins: string[] = [];
  const side: Array<[number, LdifRecord]> = [];
  let f: Array<string | number> = [];
  const segments = [f];
  for (let i = 0; i < records.length; i++) {
    if (f.length > SEGMENT) segments.push(f = []);
    const rec = records[i];
    let tag: string;
    if (rec.kind === 'entry') tag = 'e';
    else if (rec.changetype === 'add') tag = 'a';
    else { side.push([i, rec]); continue; }
    if (rec.controls !== undefined) { side.push([i, rec]); continue; }
    const o = rec.origin;
    f.push(tag, rec.dn, rec.ndn !== undefined ? '=' + rec.ndn : '', rec.category !== undefined ? '=' + rec.category : '');
    if (o) f.push(o.file === file ? '' : o.file, o.line, o.index);
    else f.push('', -1, -1);
    f.push(rec.attrs.size);
    for (const [key, a] of rec.attrs) {
      const vals = a.values;
      f.push(key, a.name === key ? '' : a.name, vals.length);
      for (let j = 0; j < vals.length; j++) {
        const v = vals[j];
        if (typeof v === 'string') f.push(v);
        else { f.push(bins.length); bins.push(base64Of(v)); }
      }
    }
  }
  return { f: segments, n: records.length, bins, side, file };
}

/**
 * Records that travel whole (structured-cloned) at their positions among encoded ones: called with each position in
 * turn, gives the record at it (its origin moved by the offsets), or undefined when none travels there.
 */
export function sideReader(side: Array<[number, LdifRecord]>, lineOffset: number, indexOffset: number): (i: number) => LdifRecord | undefined {
  let si = 0;
  return (i) => {
    if (si >= side.length || side[si][0] !== i) return undefined;
    const r = side[si++][1];
    if (r.origin && (lineOffset || indexOffset)) r.origin = shiftedOrigin(r.origin, lineOffset, indexOffset);
    return r;
  };
}

/**
 * Decode wire form back to records. `lineOffset`/`indexOffset` are added to every origin (a chunk parsed in a worker
 * counts lines and records from 0).
 */
export function decodeRecords(e: EncodedRecords, lineOffset = 0, indexOffset = 0): LdifRecord[] {
  const out: LdifRecord[] = new Array(e.n);
  const sideAt = sideReader(e.side, lineOffset, indexOffset);
  let seg = 0;
  let f = e.f[0];
  let k = 0;
  for (let i = 0; i < e.n; i++) {
    const r = sideAt(i);
    if (r) { out[i] = r; continue; }
    if (k >= f.length) { f = e.f[++seg]; k = 0; }
    const attrs = new Map<string, Attribute>();
    const rec = (f[k] === 'e'
      ? { kind: 'entry', dn: f[k + 1] as string, attrs }
      : { kind: 'change', changetype: 'add', dn: f[k + 1] as string, attrs }) as LdifRecord & { ndn?: string; category?: string; origin?: Origin };
    const ndn = f[k + 2] as string;
    if (ndn !== '') rec.ndn = ndn.slice(1);
    const cat = f[k + 3] as string;
    if (cat !== '') rec.category = cat.slice(1);
    const line = f[k + 5] as number;
    if (line !== -1) rec.origin = { file: f[k + 4] === '' ? e.file : f[k + 4] as string, line: line + lineOffset, index: (f[k + 6] as number) + indexOffset };
    const na = f[k + 7] as number;
    k += 8;
    for (let a = 0; a < na; a++) {
      const key = f[k] as string;
      const name = f[k + 1] === '' ? key : f[k + 1] as string;
      const n = f[k + 2] as number;
      k += 3;
      const values: Value[] = new Array(n);
      for (let j = 0; j < n; j++) {
        const v = f[k++];
        if (typeof v === 'string') values[j] = v;
        else {
          const b64 = e.bins[v];
          const buf = Buffer.from(b64, 'base64');
          const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
          rememberBase64(bytes, b64);
          values[j] = bytes;
        }
      }
      attrs.set(key, { name, values });
    }
    out[i] = rec;
  }
  return out;
}
