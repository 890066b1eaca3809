/**
 * The record model. An LDIF file holds content records (entries) or change records; both flow through the
 * pipeline as `LdifRecord`. Values are strings (UTF-8 text) or Uint8Array (bytes that are not valid UTF-8):
 * binary is never turned into text. Everything here is plain data, structured-clone safe.
 */
import { normalizeDn } from './dn.js';

export type Value = string | Uint8Array;

/** Where a record came from: a file and the line its first line stands on, or a server URL. */
export interface Origin {
  file: string;
  line: number;
  /** 0-based ordinal of the record in its source. */
  index: number;
}

export interface Attribute {
  /** The attribute description as spelled in the source, options included (`cn;lang-ja`). */
  name: string;
  values: Value[];
  /**
   * Set by the LDIF reader when asked for raw spans (RawSpans in ldif-parser.ts): where the attribute's lines are in
   * the input, -1 when they cannot be copied. Stages never change an attribute in place (a changed one is a new
   * object), and a writer using the span checks that values and name are still the ones parsed.
   */
  raw?: number;
}

export interface Control {
  oid: string;
  criticality: boolean;
  value: Value | null;
}

interface RecordBase {
  dn: string;
  /** Normalized DN, filled by `ndnOf` on first use. */
  ndn?: string;
  origin?: Origin;
  controls?: Control[];
  /** Set by the categorize stage. */
  category?: string;
}

/** A content record: a directory entry. `attrs` is keyed by the lower-cased attribute description. */
export interface Entry extends RecordBase {
  kind: 'entry';
  attrs: Map<string, Attribute>;
}

export type ModOp = 'add' | 'delete' | 'replace' | 'increment';

export interface Modification {
  op: ModOp;
  name: string;
  values: Value[];
}

export interface AddRecord extends RecordBase {
  kind: 'change';
  changetype: 'add';
  attrs: Map<string, Attribute>;
}
export interface DeleteRecord extends RecordBase {
  kind: 'change';
  changetype: 'delete';
}
export interface ModifyRecord extends RecordBase {
  kind: 'change';
  changetype: 'modify';
  mods: Modification[];
}
export interface ModDnRecord extends RecordBase {
  kind: 'change';
  changetype: 'modrdn' | 'moddn';
  newrdn: string;
  deleteoldrdn: boolean;
  newsuperior: string | null;
}
export type ChangeRecord = AddRecord | DeleteRecord | ModifyRecord | ModDnRecord;
export type LdifRecord = Entry | ChangeRecord;

/** A rejected record: data, not an exception. Goes to the reject file with its reason. */
export interface Reject {
  code: string;
  message: string;
  dn?: string;
  origin?: Origin;
  /** The record as it was read (raw LDIF lines), when the record could not be parsed. */
  raw?: string;
  /** The record as it was when rejected, when it was parsed. */
  record?: LdifRecord;
}

/** A batch: records in input order with a sequence number, and the rejects found so far for them. */
export interface Batch {
  seq: number;
  /**
   * The records. When `ldif` is set they were written to LDIF text already (by a worker, src/transforms/in-workers.ts)
   * and this array only counts them: its slots are empty.
   */
  records: LdifRecord[];
  rejects: Reject[];
  /**
   * The records' LDIF text, a blank line between them (src/sinks/ldif-format.ts formatRecordsToBuffer): set only
   * when nothing between the workers and an LDIF file sink needs the records themselves.
   */
  ldif?: Uint8Array;
  /** Called once `ldif` is written (or skipped): its memory may then be reused. */
  release?: () => void;
  /** Counts of fixes and other notes by code, added by stages. */
  counts?: Record<string, number>;
  /** What stages did to the entries named by `--explain`: one line per change, for the user. */
  notes?: Note[];
}

export interface Note {
  dn: string;
  stage: string;
  code: string;
  message: string;
}

export function makeEntry(dn: string, attrs: Array<[string, Value | Value[]]> = [], origin?: Origin): Entry {
  const e: Entry = { kind: 'entry', dn, attrs: new Map() };
  if (origin) e.origin = origin;
  for (const [name, v] of attrs) addValues(e.attrs, name, Array.isArray(v) ? v : [v]);
  return e;
}

export function addValues(attrs: Map<string, Attribute>, name: string, values: Value[]): void {
  const key = name.toLowerCase();
  const a = attrs.get(key);
  if (a) a.values.push(...values);
  else attrs.set(key, { name, values: [...values] });
}

export function getValues(rec: { attrs: Map<string, Attribute> }, name: string): Value[] {
  return rec.attrs.get(name.toLowerCase())?.values ?? [];
}

export function getStrings(rec: { attrs: Map<string, Attribute> }, name: string): string[] {
  return getValues(rec, name).map(valueToString);
}

const utf8 = new TextDecoder('utf-8');
export function valueToString(v: Value): string {
  return typeof v === 'string' ? v : utf8.decode(v);
}

export function valueBytes(v: Value): Uint8Array {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

export function valuesEqual(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  return Buffer.from(valueBytes(a)).equals(valueBytes(b));
}

/** The normalized DN of a record, computed once. */
export function ndnOf(rec: RecordBase): string {
  return rec.ndn ??= normalizeDn(rec.dn);
}

/** Lower-cased objectClass values of an entry. */
export function objectClassesOf(rec: { attrs: Map<string, Attribute> }): string[] {
  return getStrings(rec, 'objectclass').map((s) => s.trim().toLowerCase());
}

/** The base attribute type of a description: `cn;lang-ja` -> `cn`. */
export function baseType(desc: string): string {
  const i = desc.indexOf(';');
  return i < 0 ? desc : desc.slice(0, i);
}

export function describeRecord(rec: { dn: string; origin?: Origin }): string {
  return rec.origin ? `${rec.origin.file}:${rec.origin.line} (dn: ${rec.dn})` : `dn: ${rec.dn}`;
}

/**
 * The base64 text a binary value was read from, so writing it back costs no re-encoding. In-process only (a value
 * that crossed to a worker is simply encoded again); never consulted for values that were changed, since a change
 * makes a new Uint8Array.
 */
const sourceBase64 = new WeakMap<Uint8Array, string>();
export function rememberBase64(bytes: Uint8Array, b64: string): void {
  sourceBase64.set(bytes, b64);
}
export function base64Of(v: Value): string {
  if (typeof v === 'string') return Buffer.from(v, 'utf8').toString('base64');
  return sourceBase64.get(v) ?? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

/** `o` moved down by `lines` and `records` (a chunk parsed in a worker counts both from 0): a new object. */
export function shiftedOrigin(o: Origin, lines: number, records: number): Origin {
  return { file: o.file, line: o.line + lines, index: o.index + records };
}

/**
 * A rough size of a record on the JavaScript heap: object and map overhead plus two bytes per character. The
 * ordering stage's memory budget counts records with it (a text entry too, measured before it became text, so that
 * what spills does not depend on the form records travel in).
 */
export function heapEstimate(rec: { dn: string; attrs: Map<string, Attribute> }): number {
  let n = 300 + rec.dn.length * 4;
  for (const a of rec.attrs.values()) {
    n += 120 + a.name.length * 2;
    for (const v of a.values) n += 32 + (typeof v === 'string' ? v.length * 2 : v.byteLength + 64);
  }
  return n;
}
