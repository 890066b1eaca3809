/**
 * Spill: records that must wait (a barrier stage over its memory bound) parked on disk in LevelDB, read back by key
 * prefix; records that are only ever read back once, in order, in an append-only file instead (putQueued, below).
 * The only reason for a LevelDB here is ordered prefix scans; writes go in chained batches of up to 1,000 records or
 * 1 MiB, whichever comes first (measured ~330k ops/s; an options object on the array form of batch()
 * was 3x slower), and reads come back in chunks of up to 1,000 records or about 1 MiB: a group with a hundred members
 * is ~14 KB of JSON, and 1,000 of them queued or read at once were 14 MB of strings that lived long enough to reach
 * the old generation.
 *
 * Records are stored compactly as JSON (UTF-8 bytes): values as strings, binary values as `{b: base64}`; the
 * normalized DN, origin and category travel with the record so nothing is recomputed or lost. A text entry
 * (text-record.ts) that still holds its text is stored as a byte 1, the length of a JSON part (its fields, and its
 * reference attributes' names and value counts), that JSON, then its text and its reference hashes as raw bytes, and
 * comes back as one: held groups are most of what spills, and their text and hashes inside JSON (escaped, base64)
 * were most of its bytes and of the time to write and read them.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, mkdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { LdapflowError } from '../errors.js';
import type { Attribute, Entry, AddRecord, Value } from '../entry.js';
import { TextEntry, type RefAttr } from '../transforms/text-record.js';

export type SpillRecord = Entry | AddRecord;

type Enc = string | { b: string };
/** What every stored record keeps: DN, normalized DN, origin, category. */
interface StoredBase {
  d: string;
  n?: string;
  o?: [string, number, number];
  c?: string;
}

interface Stored extends StoredBase {
  k?: 1; // an add change record rather than a content entry
  a: Array<[string, ...Enc[]]>;
}

/** The JSON part of a text entry: its text's length, heap estimate, fold column and references [key, name, number of
 * values (read from the text when needed), 1 when their hashes follow the text]. */
interface StoredText extends StoredBase {
  t: number;
  h: number;
  w: number;
  r: Array<[string, string, number, 0 | 1]>;
}

const TEXT_ENTRY = 1;

function storeBase<S extends StoredBase>(s: S, rec: SpillRecord): S {
  if (rec.ndn !== undefined) s.n = rec.ndn;
  if (rec.origin) s.o = [rec.origin.file, rec.origin.line, rec.origin.index];
  if (rec.category !== undefined) s.c = rec.category;
  return s;
}

function restoreBase(rec: SpillRecord, s: StoredBase): void {
  if (s.n !== undefined) rec.ndn = s.n;
  if (s.o) rec.origin = { file: s.o[0], line: s.o[1], index: s.o[2] };
  if (s.c !== undefined) rec.category = s.c;
}

export function encodeRecord(rec: SpillRecord): Uint8Array {
  if (rec instanceof TextEntry && rec.buf) return encodeText(rec);
  const s = storeBase<Stored>({ d: rec.dn, a: [] }, rec);
  if (rec.kind === 'change') s.k = 1;
  for (const a of rec.attrs.values()) {
    const row: [string, ...Enc[]] = [a.name];
    for (const v of a.values) row.push(typeof v === 'string' ? v : { b: Buffer.from(v).toString('base64') });
    s.a.push(row);
  }
  return Buffer.from(JSON.stringify(s), 'utf8');
}

function encodeText(rec: TextEntry): Uint8Array {
  const s = storeBase<StoredText>({ d: rec.dn, t: rec.end - rec.start, h: rec.heapBytes, w: rec.wrap, r: [] }, rec);
  const hashes: Float64Array[] = [];
  let hashBytes = 0;
  if (rec.refs) {
    for (const [key, a] of rec.refs) {
      const h = rec.hashes?.get(key);
      s.r.push([key, a.name, a.n, h ? 1 : 0]);
      if (h) { hashes.push(h); hashBytes += h.byteLength; }
    }
  }
  const json = JSON.stringify(s);
  const jsonBytes = Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(5 + jsonBytes + s.t + hashBytes);
  out[0] = TEXT_ENTRY;
  out.writeUInt32LE(jsonBytes, 1);
  let off = 5 + out.write(json, 5, 'utf8');
  off += rec.buf!.copy(out, off, rec.start, rec.end);
  for (const h of hashes) off += Buffer.from(h.buffer, h.byteOffset, h.byteLength).copy(out, off);
  return out;
}

export function decodeRecord(v: Uint8Array): SpillRecord {
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (b[0] === TEXT_ENTRY) return decodeText(b);
  const s = JSON.parse(b.toString('utf8')) as Stored;
  const attrs = new Map<string, Attribute>();
  for (const [name, ...vals] of s.a) {
    const values: Value[] = vals.map((v) => (typeof v === 'string' ? v : new Uint8Array(Buffer.from(v.b, 'base64'))));
    attrs.set(name.toLowerCase(), { name, values });
  }
  const rec: SpillRecord = s.k ? { kind: 'change', changetype: 'add', dn: s.d, attrs } : { kind: 'entry', dn: s.d, attrs };
  restoreBase(rec, s);
  return rec;
}

function decodeText(b: Buffer): TextEntry {
  const jsonBytes = b.readUInt32LE(1);
  const s = JSON.parse(b.toString('utf8', 5, 5 + jsonBytes)) as StoredText;
  let off = 5 + jsonBytes;
  const text = Buffer.allocUnsafeSlow(s.t); // its own memory: the value read may be a view of a larger chunk
  b.copy(text, 0, off, off + s.t);
  off += s.t;
  let refs: Map<string, RefAttr> | undefined;
  let hashes: Map<string, Float64Array> | undefined;
  if (s.r.length) {
    refs = new Map();
    hashes = new Map();
    for (const [key, name, n, hashed] of s.r) {
      refs.set(key, { name, n, values: undefined });
      if (!hashed) continue;
      const h = new Float64Array(4 * n);
      new Uint8Array(h.buffer).set(b.subarray(off, off + h.byteLength));
      off += h.byteLength;
      hashes.set(key, h);
    }
  }
  const e = new TextEntry(s.d, text, 0, s.t, refs);
  e.hashes = hashes;
  e.heapBytes = s.h;
  e.wrap = s.w;
  restoreBase(e, s);
  return e;
}

/** Bytes queued or read at once. */
const CHUNK_BYTES = 1 << 20;

export class Spill {
  private pending: Array<[string, Uint8Array]> = [];
  private pendingBytes = 0;
  private stored = 0;
  private closed = false;

  private constructor(private readonly db: Level<string, Uint8Array>, readonly dir: string, private readonly owned: boolean) {}

  /** Open a fresh spill store in a new directory under `parent` (default: the OS temp dir); removed on close. */
  static async open(parent?: string): Promise<Spill> {
    let dir: string;
    try {
      if (parent) mkdirSync(parent, { recursive: true });
      dir = mkdtempSync(join(parent ?? tmpdir(), 'ldapflow-spill-'));
    } catch (err) {
      throw new LdapflowError('STATE_SPILL_OPEN', `cannot create a spill directory under ${parent ?? tmpdir()}: ${(err as Error).message}`, { cause: err });
    }
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      throw new LdapflowError('STATE_SPILL_OPEN', `cannot open the spill store ${dir}: ${(err as Error).message}`, { cause: err });
    }
    return new Spill(db, dir, true);
  }

  /** Records on disk or queued for it. */
  get size(): number {
    return this.stored + this.pending.length;
  }

  /** Queue a record under a key; written in batches of 1,000. */
  async put(key: string, rec: SpillRecord): Promise<void> {
    const v = encodeRecord(rec);
    this.pending.push([key, v]);
    this.pendingBytes += v.length;
    if (this.pending.length >= 1000 || this.pendingBytes >= CHUNK_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    await this.settle();
    if (this.pending.length === 0) return;
    const ops = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const b = this.db.batch();
    for (const [k, v] of ops) b.put(k, v);
    try {
      await b.write();
    } catch (err) {
      throw new LdapflowError('STATE_SPILL_WRITE', `cannot write to the spill store ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
    this.stored += ops.length;
  }

  /** Read and remove one record; undefined when absent. */
  async take(key: string): Promise<SpillRecord | undefined> {
    const at = this.pending.findIndex((p) => p[0] === key);
    if (at >= 0) {
      const v = this.pending.splice(at, 1)[0][1];
      this.pendingBytes -= v.length;
      return decodeRecord(v);
    }
    const v = await this.db.get(key);
    if (v === undefined) return undefined;
    await this.db.del(key);
    this.stored--;
    return decodeRecord(v);
  }

  /**
   * Read and remove every record whose key starts with `prefix`, in key order, with its key, in chunks of up to
   * `chunk` records and about 1 MiB. The next chunk is read, and this one's keys deleted, while the caller works on
   * this one: awaiting each read and each delete kept the ordering stage's end-of-input pass idle ~1.5 s at 1M entries
   * (measured, when held records still came from here). A failed delete is reported by the next flush.
   */
  async *takePrefix(prefix: string, chunk = 1000): AsyncGenerator<Array<[string, SpillRecord]>> {
    await this.flush();
    const range = { gte: prefix, lt: prefix + '\uffff' };
    const it = this.db.iterator(range);
    let next: Promise<Array<[string, Uint8Array]>> | undefined = it.nextv(Math.min(chunk, 64));
    try {
      for (;;) {
        const rows: Array<[string, Uint8Array]> = await next!;
        next = undefined;
        if (rows.length === 0) break;
        let bytes = 0;
        for (const [, v] of rows) bytes += v.length;
        const del = this.db.batch();
        for (const [k] of rows) del.del(k);
        this.background(del.write());
        this.stored -= rows.length;
        // The next read: as many records as fit in the byte budget at this chunk's average size.
        next = it.nextv(Math.max(1, Math.min(chunk, Math.floor(CHUNK_BYTES / Math.max(1, bytes / rows.length)))));
        yield rows.map(([k, v]) => [k, decodeRecord(v)]);
      }
    } finally {
      // A read still under way must end before its iterator is closed.
      if (next) await next.catch(() => undefined);
      await it.close();
    }
  }

  private bg: Promise<void> = Promise.resolve();
  private bgError: unknown;

  /** Run a write in the background, one after another; its failure is kept for settle(). */
  private background(p: Promise<void>): void {
    p.catch((err) => { this.bgError ??= err; });
    this.bg = this.bg.then(() => p.then(() => undefined, () => undefined));
  }

  /** Wait for background writes; throw the first failure. */
  private async settle(): Promise<void> {
    await this.bg;
    if (this.bgError !== undefined) {
      const err = this.bgError;
      this.bgError = undefined;
      throw new LdapflowError('STATE_SPILL_WRITE', `cannot write to the spill store ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  // ---- records kept in order: an append-only file ----
  // Records held until the end of input (the ordering stage's groups waiting for their members) are read back once,
  // in the order they were put, never by prefix: a plain file does that, with an index of where each one is. Through
  // LevelDB the end-of-input pass waited ~0.9 s at 1M entries for its reads (measured); here they are sequential
  // reads of a few MiB. A record put again under the same number (a duplicate DN replacing a held one) is appended and
  // the index points to it; the old bytes stay unused.
  private qfd: number | undefined;
  private qEnd = 0; // bytes in the file, staged ones included
  private qStage = Buffer.allocUnsafeSlow(1 << 20);
  private qStaged = 0;
  private readonly qAt = new Map<number, [number, number]>(); // seq -> [offset, length]

  /** Write the staged bytes to the file. */
  private qFlush(): void {
    if (this.qStaged === 0) return;
    this.qWrite(this.qStage.subarray(0, this.qStaged), this.qEnd - this.qStaged);
    this.qStaged = 0;
  }

  private qWrite(b: Uint8Array, at: number): void {
    try {
      this.qfd ??= openSync(join(this.dir, 'queue'), 'w+');
      for (let off = 0; off < b.length;) off += writeSync(this.qfd, b, off, b.length - off, at + off);
    } catch (err) {
      throw new LdapflowError('STATE_SPILL_WRITE', `cannot write to the spill store ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Read `len` bytes at `at` into `b`; fewer than asked (the file is shorter) is an error. */
  private qRead(b: Buffer, len: number, at: number): void {
    let got = 0;
    try {
      while (got < len) {
        const n = readSync(this.qfd!, b, got, len - got, at + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      throw new LdapflowError('STATE_SPILL_READ', `cannot read the spill store ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
    if (got < len) throw new LdapflowError('STATE_SPILL_READ', `the spill store ${this.dir} is shorter than what was written to it`);
  }

  /** Keep a record under the number `seq` (read back in order of number by takeQueued). */
  putQueued(seq: number, rec: SpillRecord): void {
    const v = encodeRecord(rec);
    if (this.qStaged + v.length > this.qStage.length) this.qFlush();
    if (v.length > this.qStage.length) {
      this.qWrite(v, this.qEnd);
    } else {
      this.qStage.set(v, this.qStaged);
      this.qStaged += v.length;
    }
    this.qAt.set(seq, [this.qEnd, v.length]);
    this.qEnd += v.length;
  }

  /** Read and remove the record kept under `seq`; undefined when there is none. */
  takeQueuedOne(seq: number): SpillRecord | undefined {
    const at = this.qAt.get(seq);
    if (!at) return undefined;
    this.qAt.delete(seq);
    this.qFlush();
    const b = Buffer.allocUnsafe(at[1]);
    this.qRead(b, at[1], at[0]);
    return decodeRecord(b);
  }

  /**
   * Every record kept, by ascending number, with the number, in chunks of up to 1,000 records or about 1 MiB. Read
   * in windows of 4 MiB (a record out of place, put again later, by a read of its own).
   */
  async *takeQueued(chunk = 1000): AsyncGenerator<Array<[number, SpillRecord]>> {
    this.qFlush();
    const seqs = [...this.qAt.keys()].sort((a, b) => a - b);
    let win = Buffer.allocUnsafeSlow(1 << 22);
    let winStart = 0;
    let winLen = 0;
    let out: Array<[number, SpillRecord]> = [];
    let bytes = 0;
    for (const seq of seqs) {
      const [off, len] = this.qAt.get(seq)!;
      if (off < winStart || off + len > winStart + winLen) {
        if (len > win.length) win = Buffer.allocUnsafeSlow(len);
        winStart = off;
        winLen = Math.min(win.length, this.qEnd - off);
        this.qRead(win, winLen, off);
      }
      out.push([seq, decodeRecord(win.subarray(off - winStart, off - winStart + len))]);
      bytes += len;
      if (out.length >= chunk || bytes >= CHUNK_BYTES) {
        yield out;
        out = [];
        bytes = 0;
      }
    }
    this.qAt.clear();
    if (out.length) yield out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    if (this.qfd !== undefined) { closeSync(this.qfd); this.qfd = undefined; }
    await this.bg; // deletes still under way (their failure no longer matters: the store goes)
    await this.db.close();
    if (this.owned) rmSync(this.dir, { recursive: true, force: true });
  }
}
