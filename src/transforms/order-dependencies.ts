/**
 * orderDependencies: a barrier stage that puts parents before children and resolves DN-valued references.
 *
 * - An entry whose parent has not passed yet waits, keyed by the parent's normalized DN, and is released as soon as
 *   the parent passes (releases cascade). The parents of `baseDn` (and the base itself), `existing` DNs and the root
 *   count as present.
 * - At most `bufferEntries` records wait in memory; the rest spill to disk (src/state/spill.ts: LevelDB for children
 *   waiting on a parent, read back by parent; a plain file for records held until the end of input).
 * - At end of input, entries whose parent never came are rejected `ORDER_MISSING_PARENT` (with every entry waiting
 *   below them), or get a generated parent with `createMissingParents`.
 * - When no `baseDn` and no `existing` are given, the top of the data is guessed (`ORDER_ROOT_ASSUMED`, one note
 *   each): a domain-component-only DN (`dc=example,dc=com`) whose parent has not been seen passes at once, and at end
 *   of input an entry whose parent has no ancestor at all in the input passes too. Give `baseDn` to be sure: a
 *   `dc=com` entry that comes after `dc=example,dc=com` would otherwise be written after it.
 * - DN-valued references (member, uniqueMember, manager, ...) are rewritten to the exact spelling of the referenced
 *   entry. References to no entry of the input nor the target are `REF_DANGLING`: kept or removed (`danglingReferences`).
 *   For an LDIF sink, an entry with references to DNs not seen yet is held until end of input (or until spilled)
 *   and written with its references inline. For an LDAP sink, references to entries not written yet are taken out of
 *   the entry and added later by `changetype: modify` records once their targets are written, so cycles load.
 * - Whether a value is spelled exactly as its target is judged by 64-bit hashes of the two spellings (as the index
 *   judges DNs equal); the target's spelling is built only for a value to re-spell.
 * - With workers and an LDIF sink, records come as text entries (text-record.ts): their LDIF text written by a worker,
 *   with the hashes of their reference values. Most are decided on the hashes alone; a value that must change is read
 *   from the text and only its line is written again. Output, rejects and counts are the same as inline.
 * - The same DN twice (in any spelling): the later record wins. If the earlier one still waits it is rejected
 *   `ORDER_DUPLICATE_DN`; if it was already written, the later one becomes a modify that replaces its attributes.
 */
import type { AddRecord, Attribute, Batch, Entry, LdifRecord, ModifyRecord, Note, Reject, Value } from '../entry.js';
import { describeRecord, heapEstimate } from '../entry.js';
import { normalizeDn, parentDn, rdnOf } from '../dn.js';
import { LdapflowError } from '../errors.js';
import type { BarrierStage, StageContext } from '../stage.js';
import { Spill } from '../state/spill.js';
import { hash64, ownString } from '../strings.js';
import { dnPartEnd, keyHashesAt, KEYS_PARENT, refAttr, refTarget, TextEntry } from './text-record.js';

export const DEFAULT_REFERENCE_ATTRIBUTES = ['member', 'uniqueMember', 'manager', 'owner', 'seeAlso', 'roleOccupant', 'secretary'];

/** Object classes of a generated parent, by the type of its RDN. */
export const DEFAULT_PARENT_CLASSES: Record<string, string[]> = {
  ou: ['top', 'organizationalUnit'],
  o: ['top', 'organization'],
  dc: ['top', 'domain'],
  c: ['top', 'country'],
  l: ['top', 'locality'],
  cn: ['top', 'organizationalRole'],
};

export interface OrderDependenciesOptions {
  /** DN(s) that exist in the target: they and everything above them count as present. */
  baseDn?: string | string[];
  /** Parents known to exist in the target: a list of DNs, or an asynchronous check (called once per distinct DN). */
  existing?: string[] | ((ndn: string) => Promise<boolean>);
  /** At end of input, generate a parent for entries whose parent never came instead of rejecting them. */
  createMissingParents?: boolean;
  /** Object classes of generated parents by RDN type (defaults: DEFAULT_PARENT_CLASSES; other types: extensibleObject). */
  parentClasses?: Record<string, string[]>;
  /** DN-valued attributes to resolve (default DEFAULT_REFERENCE_ATTRIBUTES). */
  referenceAttributes?: string[];
  /** What to do with references to entries in neither the input nor the target: keep the value, remove it, or
   * reject the whole entry (code REF_DANGLING). Default 'keep'. */
  danglingReferences?: 'keep' | 'remove' | 'reject';
  /** Records that may wait in memory before spilling to disk (half of them at most held for references). Default 200,000. */
  bufferEntries?: number;
  /** Estimated bytes of JavaScript heap the waiting records may take before spilling (half of it at most for records
   * held for references). Default 16 MiB. Long-lived records cost the process several times their size: V8 lets the
   * old generation grow to about four times what survived its last full collection before collecting again, so with
   * 64 MiB a 1M-entry run peaked near 600 MB; with 16 MiB and the index off the heap (30-40 bytes an entry) the ordering
   * bench peaked under 400 MB at 1M entries. */
  bufferBytes?: number;
  /** Records per output batch. Default 1,000. */
  batchSize?: number;
  /** Where to spill (default: the pipeline's state directory, else the OS temp dir). */
  stateDir?: string;
  /** Overrides the pipeline's sink kind (tests, analyze). */
  sinkKind?: 'ldif' | 'ldap' | 'none';
  /** Called for every reported event (duplicates, dangling references, created parents, ...). */
  onEvent?: (ev: OrderEvent) => void;
}

export interface OrderEvent {
  code: string;
  dn: string;
  message: string;
  /** For REF_DANGLING: the attribute and the value. */
  attribute?: string;
  value?: string;
}

type Rec = Entry | AddRecord;

const NONE = 0, WAIT_MEM = 1, WAIT_DISK = 2, HELD_MEM = 3, HELD_DISK = 4, PASSED = 5, REJECTED = 6;

function optionError(name: string, why: string): LdapflowError {
  return new LdapflowError('OPTION_INVALID', `orderDependencies: option "${name}" ${why}`);
}

function hex(i: number): string {
  return i.toString(16).padStart(8, '0');
}

interface Deferred {
  dn: string;
  name: string;
  value: string;
  /** A nameAndOptionalUID suffix (`#'0101'B`) to keep after the exact DN. */
  suffix: string;
  origin?: Rec['origin'];
}

export function orderDependencies(opts: OrderDependenciesOptions = {}): BarrierStage {
  const bufferEntries = opts.bufferEntries ?? 200_000;
  if (!Number.isInteger(bufferEntries) || bufferEntries < 1) throw optionError('bufferEntries', `must be a positive integer, got ${opts.bufferEntries}`);
  const bufferBytes = opts.bufferBytes ?? 16 * 1024 * 1024;
  if (!(bufferBytes > 0)) throw optionError('bufferBytes', `must be a positive number, got ${opts.bufferBytes}`);
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw optionError('batchSize', `must be a positive integer, got ${opts.batchSize}`);
  const dangling = opts.danglingReferences ?? 'keep';
  if (dangling !== 'keep' && dangling !== 'remove' && dangling !== 'reject') throw optionError('danglingReferences', `must be "keep", "remove" or "reject", got ${JSON.stringify(dangling)}`);
  const norm = (name: string, dn: string) => {
    try { return normalizeDn(dn); } catch (err) { throw optionError(name, (err as Error).message); }
  };
  const bases = opts.baseDn === undefined ? [] : (Array.isArray(opts.baseDn) ? opts.baseDn : [opts.baseDn]).map((d) => norm('baseDn', d));
  const present = new Set<string>();
  for (const b of bases) for (let p = b; p; p = parentDn(p)) present.add(p);
  let existingFn: ((ndn: string) => Promise<boolean>) | undefined;
  if (Array.isArray(opts.existing)) for (const d of opts.existing) present.add(norm('existing', d));
  else if (typeof opts.existing === 'function') existingFn = opts.existing;
  else if (opts.existing !== undefined) throw optionError('existing', 'must be a list of DNs or a function (ndn) => Promise<boolean>');
  const refAttrs = new Set((opts.referenceAttributes ?? DEFAULT_REFERENCE_ATTRIBUTES).map((a) => a.toLowerCase()));
  const parentClasses = { ...DEFAULT_PARENT_CLASSES, ...(opts.parentClasses ?? {}) };
  const assumeRoots = bases.length === 0 && opts.existing === undefined;

  return {
    kind: 'barrier',
    name: 'order-dependencies',
    textAttributes: [...refAttrs],
    run(input: AsyncIterable<Batch>, ctx: StageContext): AsyncIterable<Batch> {
      const sinkKind = opts.sinkKind ?? ctx.sinkKind;
      const st = new OrderState({
        bufferEntries, bufferBytes, batchSize, dangling, present, existingFn, refAttrs, parentClasses, assumeRoots,
        createMissingParents: !!opts.createMissingParents, ldap: sinkKind === 'ldap',
        stateDir: opts.stateDir ?? ctx.stateDir, onEvent: opts.onEvent,
      });
      return st.run(input);
    },
  };
}

interface StateOptions {
  bufferEntries: number;
  bufferBytes: number;
  batchSize: number;
  dangling: 'keep' | 'remove' | 'reject';
  present: Set<string>;
  existingFn?: (ndn: string) => Promise<boolean>;
  refAttrs: Set<string>;
  parentClasses: Record<string, string[]>;
  assumeRoots: boolean;
  createMissingParents: boolean;
  ldap: boolean;
  stateDir?: string;
  onEvent?: (ev: OrderEvent) => void;
}

class OrderState {
  // The index of every DN that arrived: ndn -> ordinal (idx); per ordinal the exact spelling, the line and the state.
  // All in typed arrays, off the JavaScript heap and out of the garbage collector's way: 40-50 bytes an entry.
  private readonly idxOf = new DnIndex();
  private readonly spelled = new Spellings();
  private lines = new Uint32Array(1024); // line + 1; 0: no line (a generated record)
  private state = new Uint8Array(1024);

  // Waiting and held records, in memory up to the budget, else on disk. Whichever it is, records come back in the order
  // they would come from memory alone (children of one parent by ordinal, held records in the order they were held),
  // so the output does not depend on the buffer size.
  private readonly waitMem = new Map<string, number[]>();
  private readonly recs = new Map<number, Rec>();
  private memBytes = 0;
  private heldBytes = 0;
  private readonly spilledParents = new Map<string, number>();
  /** One bit per hash of a DN that records waited on (parked below it), by its hash's first half: a record that
   * passes with its bit clear has nothing waiting on it, and is not looked up among the waiting (a Map look-up by a
   * string that is hashed afresh, most of the release work for a million entries where a few thousand parents are
   * waited on). 2^20 bits: with 50k parents waited on, ~5% of passing records are looked up for nothing. */
  private readonly waitedOn = new Int32Array(1 << 15);
  private heldMem: number[] = [];
  private heldMemSeq: number[] = [];
  private heldSeq = 0;
  private readonly heldDiskSeq = new Map<number, number>();
  private spill?: Spill;
  private readonly existingCache = new Map<string, boolean>();
  private readonly deferred = new Map<string, Deferred[]>();

  private ready: Rec[] = [];
  private readyHead = 0;
  private releases: string[] = [];
  private releaseHead = 0;
  private final = false;
  private lastPa = 0;
  private lastPb = 0;
  private lastPaIdx: number | undefined;

  private out: LdifRecord[] = [];
  private rejects: Reject[] = [];
  private counts: Record<string, number> = {};
  private notes: Note[] = [];
  private seq = 0;
  private file = '';

  constructor(private readonly o: StateOptions) {}

  private bump(code: string, n = 1): void {
    this.counts[code] = (this.counts[code] ?? 0) + n;
  }

  private event(code: string, dn: string, message: string, extra: Partial<OrderEvent> = {}): void {
    this.notes.push({ dn, stage: 'order-dependencies', code, message });
    this.o.onEvent?.({ code, dn, message, ...extra });
  }

  private reject(rec: LdifRecord, code: string, message: string): void {
    this.rejects.push({ code, message, dn: rec.dn, origin: rec.origin, record: rec });
    this.o.onEvent?.({ code, dn: rec.dn, message });
  }

  private takeBatch(): Batch {
    if (this.adds.size) {
      for (const m of this.adds.values()) this.out.push(m);
      this.adds.clear();
    }
    const b: Batch = { seq: this.seq++, records: this.out, rejects: this.rejects };
    if (Object.keys(this.counts).length) b.counts = this.counts;
    if (this.notes.length) b.notes = this.notes;
    this.out = [];
    this.rejects = [];
    this.counts = {};
    this.notes = [];
    return b;
  }

  private where(line: number): string {
    return line >= 0 ? `${this.file}:${line}` : 'a generated record';
  }

  private setState(idx: number, s: number): void {
    if (idx >= this.state.length) this.state = grown(this.state, idx);
    this.state[idx] = s;
  }

  private setLine(idx: number, line: number): void {
    if (idx >= this.lines.length) this.lines = grown(this.lines, idx);
    this.lines[idx] = line < 0 ? 0 : Math.min(line + 1, 0xffffffff);
  }

  private lineOf(idx: number): number {
    return this.lines[idx] - 1;
  }

  private exact(idx: number, ndn: string): string {
    return this.spelled.get(idx, ndn);
  }

  /** Record the exact spelling of `idx`, and its hash. */
  private setSpelling(idx: number, dn: string, ndn: string): void {
    this.spelled.set(idx, dn, ndn);
    const h = hash64(dn);
    this.idxOf.setSpelling(idx, h[0], h[1]); // a reference value spelled so needs no re-spelling
  }

  /** Whether the exact spelling of `idx` has hash64 halves (a, b). */
  private spelledAs(idx: number, a: number, b: number): boolean {
    return this.idxOf.spelledAs(idx, a, b);
  }

  /** Whether `ndn` is in the target, when that is known without asking it; else undefined. */
  private presentKnown(ndn: string): boolean | undefined {
    if (ndn === '' || this.o.present.has(ndn)) return true;
    if (!this.o.existingFn) return false;
    return this.existingCache.get(ndn);
  }

  /** The DNs in `present` and the root (''), indexed by hash: built on first use. */
  private presentIdx?: DnIndex;

  /** presentKnown by hash64 halves, when the target is not asked (no `existing` function): no DN string needed. */
  private presentHashed(a: number, b: number): boolean {
    if (!this.presentIdx) {
      this.presentIdx = new DnIndex();
      for (const d of ['', ...this.o.present]) this.presentIdx.add(d);
    }
    return this.presentIdx.getHashed(a, b) !== undefined;
  }

  private async presentInTarget(ndn: string): Promise<boolean> {
    const known = this.presentKnown(ndn);
    if (known !== undefined) return known;
    const yes = await this.o.existingFn!(ndn);
    this.existingCache.set(ndn, yes);
    return yes;
  }

  private async getSpill(): Promise<Spill> {
    return (this.spill ??= await Spill.open(this.o.stateDir));
  }

  async *run(input: AsyncIterable<Batch>): AsyncGenerator<Batch> {
    try {
      for await (const b of input) {
        for (const r of b.rejects) this.rejects.push(r);
        if (b.counts) for (const k in b.counts) this.bump(k, b.counts[k]);
        if (b.notes) for (const n of b.notes) this.notes.push(n);
        for (const rec of b.records) {
          // Most records need no waiting: the promise (and its turn of the event loop) comes only when one does.
          const a = this.arrive(rec);
          if (a !== undefined) await a;
          const d = this.drainSome();
          if (d !== undefined) await d;
          if (this.out.length >= this.o.batchSize) yield* this.drain();
        }
        if (this.out.length || this.rejects.length || this.adds.size) yield this.takeBatch();
      }
      yield* this.finish();
      yield this.takeBatch();
    } finally {
      await this.spill?.close();
    }
  }

  /** A record comes in. A promise only when it has to wait (a question to the target, the spill). */
  private arrive(rec: LdifRecord): Promise<void> | undefined {
    if (rec.kind === 'change' && rec.changetype !== 'add') {
      this.out.push(rec); // modify/delete/moddn records keep their place in the stream
      return;
    }
    if (rec.origin && rec.origin.file !== this.file) this.file = rec.origin.file;
    let ndn: string;
    try {
      ndn = rec.ndn ??= normalizeDn(rec.dn);
    } catch (err) {
      this.reject(rec, 'ORDER_INVALID_DN', `${describeRecord(rec)}: ${(err as Error).message}`);
      return;
    }
    const line = rec.origin?.line ?? -1;
    const known = this.idxOf.size;
    // A text entry comes with its DN's hashes and spelling from its worker (TextEntry `keys`); else they are made here.
    const te = rec instanceof TextEntry ? rec : undefined;
    const k = te?.keys;
    const at = te ? te.keysAt : 0;
    const h = k ? keyHashesAt(k, at) : 0;
    if (te) te.keys = undefined; // the batch's numbers: not kept past here
    const idx = k ? this.idxOf.addHashed(k[h], k[h + 1]) : this.idxOf.add(ndn);
    if (te) te.ord = idx;
    if (idx < known) return this.duplicate(rec, ndn, parentDn(ndn), idx, line);
    if (k) {
      this.spelled.setDiffs(idx, k, at + 2, k[at + 1], rec.dn, ndn);
      this.idxOf.setSpelling(idx, k[h + 2], k[h + 3]);
    } else this.setSpelling(idx, rec.dn, ndn);
    this.setLine(idx, line);
    this.setState(idx, NONE);
    // The parent's hash: sent with the keys, else made from its normalized DN (kept for what follows).
    let p: string | undefined;
    let pa: number, pb: number;
    if (k) {
      if (k[at] !== KEYS_PARENT) { this.ready.push(rec); return; }
      pa = k[h + 4];
      pb = k[h + 5];
    } else {
      p = parentDn(ndn);
      if (p === '') { this.ready.push(rec); return; }
      const ph = hash64(p);
      pa = ph[0];
      pb = ph[1];
    }
    // Entries come in runs under one parent: its ordinal is remembered (an ordinal never changes; its state is read).
    let pIdx: number | undefined;
    if (pa === this.lastPa && pb === this.lastPb && this.lastPaIdx !== undefined) pIdx = this.lastPaIdx;
    else if ((pIdx = this.idxOf.getHashed(pa, pb)) !== undefined) { this.lastPa = pa; this.lastPb = pb; this.lastPaIdx = pIdx; }
    if (pIdx !== undefined) {
      const s = this.state[pIdx];
      if (s === PASSED) { this.ready.push(rec); return; }
      p ??= parentDn(ndn);
      if (s === REJECTED) {
        this.setState(idx, REJECTED);
        this.reject(rec, 'ORDER_MISSING_PARENT', `${describeRecord(rec)}: parent "${this.exact(pIdx, p)}" was rejected`);
        return;
      }
      this.bump('ORDER_CHILD_BEFORE_PARENT');
      return this.park(rec, idx, p);
    }
    const pdn = p ?? parentDn(ndn);
    const present = this.presentKnown(pdn);
    if (present === undefined) return this.presentInTarget(pdn).then((yes) => this.parentNotIn(rec, idx, pdn, ndn, yes));
    return this.parentNotIn(rec, idx, pdn, ndn, present);
  }

  /** The ordinal of a record that arrived: a text entry keeps it (arrive), any other is looked up. */
  private ordOf(rec: Rec): number {
    return rec instanceof TextEntry && rec.ord >= 0 ? rec.ord : this.idxOf.get(rec.ndn!)!;
  }

  /** A record whose parent is not in the input so far: ready when the parent is in the target (`present`) or taken
   * as the top of the data, else parked until it comes. */
  private parentNotIn(rec: Rec, idx: number, p: string, ndn: string, present: boolean): Promise<void> | undefined {
    if (present) {
      this.ready.push(rec);
      return;
    }
    if (this.o.assumeRoots && isDomainOnly(ndn)) {
      // No base given: a domain-component-only DN (dc=example,dc=com) whose parent is not in the input so far is
      // taken as the top of the data, so a suffix-first export streams instead of waiting for its end.
      this.bump('ORDER_ROOT_ASSUMED');
      this.event('ORDER_ROOT_ASSUMED', rec.dn, `"${p}" is not in the input before "${rec.dn}": taken as existing in the target (give baseDn to say so)`);
      this.ready.push(rec);
      return;
    }
    this.bump('ORDER_CHILD_BEFORE_PARENT');
    return this.park(rec, idx, p);
  }

  /**
   * Keep a record in memory when there is room (entries and estimated bytes). Records held for references wait until
   * the end of input whatever happens, so they may take only half of the room: the rest is kept for children waiting on
   * a parent, which usually come out again soon.
   */
  private keep(idx: number, rec: Rec, held: boolean): boolean {
    if (this.recs.size >= this.o.bufferEntries) return false;
    if (held && this.heldMem.length >= this.o.bufferEntries / 2) return false;
    const est = estimate(rec);
    if (this.memBytes + est > this.o.bufferBytes) return false;
    if (held && this.heldBytes + est > this.o.bufferBytes / 2) return false;
    this.memBytes += est;
    if (held) this.heldBytes += est;
    detach(rec);
    this.recs.set(idx, rec);
    return true;
  }

  /** Take a record out of memory. */
  private drop(idx: number): Rec | undefined {
    const r = this.recs.get(idx);
    if (r) {
      this.recs.delete(idx);
      const est = estimate(r);
      this.memBytes -= est;
      if (this.state[idx] === HELD_MEM) this.heldBytes -= est;
    }
    return r;
  }

  private park(rec: Rec, idx: number, p: string): Promise<void> | undefined {
    const a = hash64(p)[0];
    this.waitedOn[(a >>> 5) & 0x7fff] |= 1 << (a & 31);
    if (this.keep(idx, rec, false)) {
      const l = this.waitMem.get(p);
      if (l) l.push(idx);
      else this.waitMem.set(ownString(p), [idx]);
      this.setState(idx, WAIT_MEM);
      return;
    }
    return this.parkOnDisk(rec, idx, p);
  }

  private async parkOnDisk(rec: Rec, idx: number, p: string): Promise<void> {
    const sp = await this.getSpill();
    await sp.put('w\0' + p + '\0' + hex(idx), rec);
    this.spilledParents.set(ownString(p), (this.spilledParents.get(p) ?? 0) + 1);
    this.setState(idx, WAIT_DISK);
    this.bump('ORDER_SPILLED');
  }

  private async hold(rec: Rec, idx: number): Promise<void> {
    const seq = this.heldSeq++;
    if (this.keep(idx, rec, true)) {
      this.heldMem.push(idx);
      this.heldMemSeq.push(seq);
      this.setState(idx, HELD_MEM);
    } else {
      const sp = await this.getSpill();
      sp.putQueued(seq, rec);
      this.heldDiskSeq.set(idx, seq);
      this.setState(idx, HELD_DISK);
      this.bump('ORDER_SPILLED');
    }
  }

  private async duplicate(rec: Rec, ndn: string, p: string, idx: number, line: number): Promise<void> {
    const s = this.state[idx];
    const msg = `"${rec.dn}" appears twice: at ${this.where(this.lineOf(idx))} and at ${this.where(line)}; the later record wins`;
    this.bump('ORDER_DUPLICATE_DN');
    this.setLine(idx, line);
    this.setSpelling(idx, rec.dn, ndn);
    if (s === PASSED || s === REJECTED || s === NONE) {
      if (s === REJECTED) {
        this.reject(rec, 'ORDER_MISSING_PARENT', `${describeRecord(rec)}: parent of a duplicate DN was rejected`);
        return;
      }
      // The earlier one is written already: the later one replaces its attributes.
      const mods = [...rec.attrs.values()].map((a) => ({ op: 'replace' as const, name: a.name, values: [...a.values] }));
      const m: ModifyRecord = { kind: 'change', changetype: 'modify', dn: rec.dn, ndn, mods };
      if (rec.origin) m.origin = rec.origin;
      if (rec.category) m.category = rec.category;
      this.out.push(m);
      this.bump('ORDER_DUPLICATE_AS_MODIFY');
      this.event('ORDER_DUPLICATE_DN', rec.dn, msg + ' (written as a modify that replaces the attributes of the earlier one; attributes only the earlier one had stay)');
      return;
    }
    let old: Rec | undefined;
    if (s === WAIT_MEM || s === HELD_MEM) {
      old = this.drop(idx);
      detach(rec);
      this.recs.set(idx, rec); // the same slot, even over the byte budget: one record
      const est = estimate(rec);
      this.memBytes += est;
      if (s === HELD_MEM) this.heldBytes += est;
    } else if (s === WAIT_DISK) {
      const key = 'w\0' + p + '\0' + hex(idx);
      const sp = await this.getSpill();
      old = await sp.take(key);
      await sp.put(key, rec);
    } else if (s === HELD_DISK) {
      const seq = this.heldDiskSeq.get(idx)!;
      const sp = await this.getSpill();
      old = sp.takeQueuedOne(seq);
      sp.putQueued(seq, rec);
    }
    if (old) this.reject(old, 'ORDER_DUPLICATE_DN', msg);
  }

  private spillIter?: AsyncIterator<Rec[]>;

  private hasWork(): boolean {
    return this.readyHead < this.ready.length || this.spillIter !== undefined || this.releaseHead < this.releases.length;
  }

  /**
   * Pass what is ready and release what waited on it, until the output batch is full or nothing is left.
   * Spilled children are read a chunk at a time, and a chunk is passed before the next is read. A promise only when
   * something has to wait (then the rest is drained after it).
   */
  private drainSome(): Promise<void> | undefined {
    while (this.out.length < this.o.batchSize) {
      if (this.readyHead < this.ready.length) {
        const rec = this.ready[this.readyHead];
        this.ready[this.readyHead++] = undefined as unknown as Rec; // a passed record must not stay reachable from here
        if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
          this.ready = this.ready.slice(this.readyHead);
          this.readyHead = 0;
        }
        const w = this.pass(rec);
        if (w !== undefined) return w.then(() => this.drainSome());
        continue;
      }
      if (this.spillIter) {
        return this.spillIter.next().then((n) => {
          if (n.done) this.spillIter = undefined;
          else for (const r of n.value) this.ready.push(r);
          return this.drainSome();
        });
      }
      if (this.releaseHead < this.releases.length) {
        const ndn = this.releases[this.releaseHead++];
        if (this.releaseHead > 1024 && this.releaseHead * 2 > this.releases.length) {
          this.releases = this.releases.slice(this.releaseHead);
          this.releaseHead = 0;
        }
        const list = this.waitMem.get(ndn);
        if (this.spilledParents.has(ndn)) {
          // Children in memory and on disk: merged by ordinal as the disk is read, a chunk at a time.
          this.spilledParents.delete(ndn);
          const mem = this.takeWaiting(ndn, list);
          this.spillIter = mergeByKey(mem[0], mem[1], this.spill!.takePrefix('w\0' + ndn + '\0'))[Symbol.asyncIterator]();
        } else if (list) {
          for (const r of this.takeWaiting(ndn, list)[0]) this.ready.push(r);
        }
        continue;
      }
      return;
    }
  }

  /** Take the records waiting in memory on `p` out of memory: the records and their ordinals, ascending. */
  private takeWaiting(p: string, list = this.waitMem.get(p)): [Rec[], number[]] {
    const recs: Rec[] = [];
    const keys: number[] = [];
    if (list) {
      this.waitMem.delete(p);
      for (const i of list) {
        if (this.state[i] !== WAIT_MEM) continue;
        const r = this.drop(i);
        if (r) { recs.push(r); keys.push(i); }
      }
    }
    return [recs, keys];
  }

  /** Drain everything, yielding full batches on the way. */
  private async *drain(): AsyncGenerator<Batch> {
    for (;;) {
      await this.drainSome();
      if (this.out.length >= this.o.batchSize) { yield this.takeBatch(); continue; }
      if (!this.hasWork()) return;
    }
  }

  /** A record whose parent has passed: hold it (LDIF sink, unknown references) or write it. A promise only for a
   * record with references (a question to the target, the spill). */
  private pass(rec: Rec): Promise<void> | undefined {
    // A text entry's references are in `refs` while its text stands; any other record's are in its attributes.
    // (At the end of input, what refsSettled would look up resolveTextRefs looks up anyway: the held groups, most of
    // which have a value to change, went through both.)
    if (rec instanceof TextEntry && rec.buf !== undefined ? rec.refs === undefined || (!this.final && this.refsSettled(rec)) : !this.hasRefAttr(rec)) {
      this.passed(rec, rec.ndn!, this.ordOf(rec));
      return;
    }
    return this.passRefs(rec);
  }

  /**
   * Whether a text entry's references need nothing done (for an LDIF sink): every value names an entry of the input,
   * spelled exactly as it, by its worker's hashes. passRefs would then neither hold it, nor change, nor report
   * anything; it is decided here without its chain of promises (four awaits an entry: ~1 in 5 users has a manager).
   */
  private refsSettled(rec: TextEntry): boolean {
    const hs = rec.hashes;
    if (this.o.ldap || hs === undefined || hs.size !== rec.refs!.size) return false;
    for (const pre of hs.values()) {
      if (pre.length === 0) return false;
      for (let h = 0; h < pre.length; h += 4) {
        if (pre[h] !== pre[h]) return false; // not a DN: reported
        const idx = this.idxOf.getHashed(pre[h], pre[h + 1]);
        if (idx === undefined || !this.spelledAs(idx, pre[h + 2], pre[h + 3])) return false;
      }
    }
    return true;
  }

  private hasRefAttr(rec: Rec): boolean {
    for (const key of this.o.refAttrs) if (rec.attrs.has(key)) return true;
    return false;
  }

  private async passRefs(rec: Rec): Promise<void> {
    const ndn = rec.ndn!;
    const idx = this.ordOf(rec);
    if (!this.final && !this.o.ldap && (await this.hasUnknownRefs(rec))) {
      this.bump('ORDER_HELD_FOR_REFERENCES');
      await this.hold(rec, idx);
      return;
    }
    const danglingRefs = await this.resolveRefs(rec);
    if (danglingRefs.length && this.o.dangling === 'reject') {
      this.setState(idx, REJECTED);
      this.reject(rec, 'REF_DANGLING', `${describeRecord(rec)}: names entries in neither the input nor the target: ${danglingRefs.join('; ')}`);
      return;
    }
    this.passed(rec, ndn, idx);
  }

  /** Write a record: it is out, and what waits on it may come. */
  private passed(rec: Rec, ndn: string, idx: number): void {
    this.out.push(rec);
    this.setState(idx, PASSED);
    const a = this.idxOf.hashOf(idx);
    if (this.waitedOn[(a >>> 5) & 0x7fff] & (1 << (a & 31))) this.releases.push(ndn);
    if (this.o.ldap) {
      const d = this.deferred.get(ndn);
      if (d) {
        this.deferred.delete(ndn);
        const exact = this.exact(idx, ndn);
        for (const x of d) {
          const v = exact + x.suffix;
          if (v !== x.value) { x.value = v; this.bump('REF_REWRITTEN'); }
          this.coalesce(x);
        }
      }
    }
  }

  /** Deferred values whose targets passed in the current output batch: one modify per entry and attribute,
   * appended after every record of the batch (so after the targets). */
  private adds = new Map<string, ModifyRecord>();

  private coalesce(x: Deferred): void {
    const key = x.dn + '\0' + x.name;
    const m = this.adds.get(key);
    this.bump('ORDER_DEFERRED_REFERENCE_ADDED');
    if (m) { m.mods[0].values.push(x.value); return; }
    const r: ModifyRecord = { kind: 'change', changetype: 'modify', dn: x.dn, mods: [{ op: 'add', name: x.name, values: [x.value] }] };
    if (x.origin) r.origin = x.origin;
    this.adds.set(key, r);
  }

  private addValueRecord(x: Deferred): ModifyRecord {
    const m: ModifyRecord = { kind: 'change', changetype: 'modify', dn: x.dn, mods: [{ op: 'add', name: x.name, values: [x.value] }] };
    if (x.origin) m.origin = x.origin;
    this.bump('ORDER_DEFERRED_REFERENCE_ADDED');
    return m;
  }

  private async hasUnknownRefs(rec: Rec): Promise<boolean> {
    for (const key of this.o.refAttrs) {
      const pre = rec instanceof TextEntry ? rec.refHashes(key) : undefined;
      if (pre) {
        // Hashed by a worker: a value that is not a DN (NaN) names nothing, one whose target is in the input is known;
        // one that names neither is judged by its hash when the target is not asked, else read from the text (to ask
        // the target about it). A held group's lines were all read here to find that its first unknown member was
        // not in `present`, and read again at the end of input.
        let lines: Int32Array | undefined;
        for (let i = 0; i < pre.length; i += 4) {
          if (pre[i] !== pre[i] || this.idxOf.getHashed(pre[i], pre[i + 1]) !== undefined) continue;
          if (!this.o.existingFn) {
            if (this.presentHashed(pre[i], pre[i + 1])) continue;
            return true;
          }
          lines ??= (rec as TextEntry).refLines(key)!;
          let t: string;
          try { t = refTarget((rec as TextEntry).refValue(lines, i / 4)); } catch { continue; }
          if (!(await this.presentInTarget(t))) return true;
        }
        continue;
      }
      const a = refAttr(rec, key);
      if (!a) continue;
      const vals = a.values;
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i];
        if (typeof v !== 'string') continue;
        let t: string;
        try { t = refTarget(v); } catch { continue; }
        if (!this.idxOf.has(t) && !(await this.presentInTarget(t))) return true;
      }
    }
    return false;
  }

  /**
   * resolveRefs for a reference attribute of a text entry, with its worker's hashes (so for an LDIF sink): a value
   * that names a DN of the input spelled as there stays as it is, not even read; only the others are read from the
   * text, and only their lines change (editRef). A held group of a hundred members, one of them re-spelled, had all
   * its values read and all its lines written again. Returns the attribute's name when removing dangling values
   * emptied it.
   */
  private async resolveTextRefs(rec: TextEntry, key: string, pre: Float64Array, danglingRefs: string[]): Promise<string | undefined> {
    let lines: Int32Array | undefined;
    let edits: Array<string | null | undefined> | undefined;
    let removed = 0;
    const n = pre.length / 4;
    const name = rec.refs!.get(key)!.name;
    this.idxOf.warm(pre);
    for (let i = 0; i < n; i++) {
      const h = 4 * i;
      const idx = pre[h] === pre[h] ? this.idxOf.getHashed(pre[h], pre[h + 1]) : undefined;
      if (idx !== undefined && this.spelledAs(idx, pre[h + 2], pre[h + 3])) continue;
      lines ??= rec.refLines(key)!;
      const v = rec.refValue(lines, i);
      if (pre[h] !== pre[h]) {
        this.bump('REF_INVALID_DN');
        this.event('REF_INVALID_DN', rec.dn, `${describeRecord(rec)}: ${name} value "${v}" is not a valid DN (kept as is)`);
        continue;
      }
      if (idx !== undefined) {
        const cut = dnPartEnd(v);
        (edits ??= [])[i] = this.exact(idx, refTarget(v)) + (cut === v.length ? '' : v.slice(cut));
        this.bump('REF_REWRITTEN');
        continue;
      }
      if (await this.presentInTarget(refTarget(v))) continue;
      this.dangling(rec, name, v, danglingRefs);
      if (this.o.dangling === 'remove') { (edits ??= [])[i] = null; removed++; }
    }
    if (edits) rec.editRef(key, lines!, edits);
    return removed === n ? name : undefined;
  }

  /** A reference to nothing in the input or the target, at the end of input: counted and reported. */
  private dangling(rec: Rec, name: string, v: string, danglingRefs: string[]): void {
    danglingRefs.push(`${name}: ${v}`);
    this.bump('REF_DANGLING');
    this.event('REF_DANGLING', rec.dn, `${describeRecord(rec)}: ${name} "${v}" names no entry of the input or the target (${this.o.dangling === 'remove' ? 'removed' : 'kept'})`, { attribute: name, value: v });
    if (this.o.dangling === 'remove') this.bump('REF_DANGLING_REMOVED');
  }

  /** Rewrite references to exact spellings; judge dangling ones (final); defer not-yet-written ones (LDAP sink). */
  private async resolveRefs(rec: Rec): Promise<string[]> {
    let empty: string[] | undefined;
    const danglingRefs: string[] = [];
    let gdn: string | undefined; // the referring DN and origin, copied once for all its deferred values
    let gorigin: Rec['origin'];
    for (const key of this.o.refAttrs) {
      // Targets and spellings hashed by a worker (text entries), else normalized and hashed here.
      const pre = rec instanceof TextEntry ? rec.refHashes(key) : undefined;
      if (pre && !this.o.ldap) {
        const emptied = await this.resolveTextRefs(rec as TextEntry, key, pre, danglingRefs);
        if (emptied !== undefined) (empty ??= []).push(emptied);
        continue;
      }
      const a = refAttr(rec, key);
      if (!a) continue;
      const kept: Value[] = [];
      const deferredHere: Deferred[] = [];
      let changed = false;
      let removed = false;
      const vals = a.values;
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i];
        if (typeof v !== 'string') { kept.push(v); continue; }
        const cut = dnPartEnd(v);
        const suffix = cut === v.length ? '' : v.slice(cut);
        // The target's ordinal, and whether the value spells it exactly (its DN part's hash is the spelling's). The
        // normalized target `t` is made only where it is needed: a value to re-spell, a target not in the input.
        let t: string | undefined;
        let idx: number | undefined;
        let same = false;
        if (pre && pre[4 * i] === pre[4 * i]) {
          idx = this.idxOf.getHashed(pre[4 * i], pre[4 * i + 1]);
          same = idx !== undefined && this.spelledAs(idx, pre[4 * i + 2], pre[4 * i + 3]);
        } else {
          const dnPart = cut === v.length ? v : v.slice(0, cut);
          try { t = normalizeDn(dnPart); } catch {
            this.bump('REF_INVALID_DN');
            this.event('REF_INVALID_DN', rec.dn, `${describeRecord(rec)}: ${a.name} value "${v}" is not a valid DN (kept as is)`);
            kept.push(v);
            continue;
          }
          idx = this.idxOf.get(t);
          if (idx !== undefined) {
            const h = hash64(dnPart);
            same = this.spelledAs(idx, h[0], h[1]);
          }
        }
        if (idx !== undefined) {
          let exact = v;
          if (!same) {
            exact = this.exact(idx, t ?? refTarget(v)) + suffix;
            this.bump('REF_REWRITTEN');
            changed = true;
          }
          const s = this.state[idx];
          if (this.o.ldap && s !== PASSED) {
            if (s === REJECTED) {
              this.bump('REF_TARGET_REJECTED');
              this.event('REF_TARGET_REJECTED', rec.dn, `${describeRecord(rec)}: ${a.name} "${v}" names an entry that was rejected`, { attribute: a.name, value: v });
              if (this.o.dangling === 'remove') { changed = removed = true; continue; }
              kept.push(exact);
              continue;
            }
            gdn ??= ownString(rec.dn);
            gorigin ??= rec.origin && { ...rec.origin };
            deferredHere.push({ dn: gdn, name: a.name, value: exact, suffix, origin: gorigin });
            changed = true;
            continue;
          }
          kept.push(exact);
          continue;
        }
        t ??= refTarget(v);
        if (await this.presentInTarget(t)) { kept.push(v); continue; }
        if (!this.final && this.o.ldap) {
          gdn ??= ownString(rec.dn);
          gorigin ??= rec.origin && { ...rec.origin };
          deferredHere.push({ dn: gdn, name: a.name, value: ownString(v), suffix, origin: gorigin });
          changed = true;
          continue;
        }
        // Final and unknown anywhere: dangling.
        this.dangling(rec, a.name, v, danglingRefs);
        if (this.o.dangling === 'remove') { changed = removed = true; continue; }
        kept.push(v);
      }
      if (deferredHere.length) {
        // Keep one value inline when deferring would leave the attribute empty (member is MUST in groupOfNames).
        if (kept.length === 0 && (key === 'member' || key === 'uniquemember')) {
          const first = deferredHere.shift()!;
          kept.push(first.value);
          this.bump('ORDER_REFERENCE_KEPT_INLINE');
        }
        for (const d of deferredHere) {
          const t = refTarget(d.value);
          const l = this.deferred.get(t);
          if (l) l.push(d);
          else this.deferred.set(ownString(t), [d]);
          this.bump('ORDER_REFERENCE_DEFERRED');
        }
      }
      if (changed) {
        // A text entry gets the attribute's lines in its text replaced; any other record, its values.
        if (!(rec instanceof TextEntry && rec.replaceRef(key, kept as string[]))) {
          const attrs = rec.attrs;
          if (kept.length) attrs.get(key)!.values = kept;
          else attrs.delete(key);
        }
        if (!kept.length && removed && !deferredHere.length) (empty ??= []).push(a.name);
      }
    }
    if (empty) for (const k of empty) {
      this.bump('REF_ATTRIBUTE_EMPTIED');
      this.event('REF_ATTRIBUTE_EMPTIED', rec.dn, `${describeRecord(rec)}: no value of "${k}" is left after removing dangling references`);
    }
    return danglingRefs;
  }

  /** End of input: held records, missing parents, deferred references, leftovers. */
  private async *finish(): AsyncGenerator<Batch> {
    this.final = true;
    // 1. Records held for references, in the order they were held: every DN of the input is known now.
    const held = this.heldMem;
    const heldSeq = this.heldMemSeq;
    this.heldMem = [];
    this.heldMemSeq = [];
    const memRecs: Rec[] = [];
    const memKeys: number[] = [];
    for (let k = 0; k < held.length; k++) {
      const i = held[k];
      if (this.state[i] !== HELD_MEM) continue;
      const r = this.drop(i);
      if (r) { memRecs.push(r); memKeys.push(heldSeq[k]); }
    }
    const disk = this.heldDiskSeq.size > 0 ? this.spill!.takeQueued() : undefined;
    this.heldDiskSeq.clear();
    for await (const chunk of mergeByKey(memRecs, memKeys, disk)) {
      for (const r of chunk) this.ready.push(r);
      yield* this.drain();
    }
    // 2. Parents that never came, shallowest first.
    const missing = new Set<string>();
    for (const [p, l] of this.waitMem) if (l.length) missing.add(p);
    for (const p of this.spilledParents.keys()) missing.add(p);
    const order = [...missing].filter((p) => {
      const i = this.idxOf.get(p);
      return i === undefined;
    }).sort((a, b) => depth(a) - depth(b));
    for (const p of order) {
      if (!this.waitMem.has(p) && !this.spilledParents.has(p)) continue;
      let anchored = false;
      for (let a = parentDn(p); a; a = parentDn(a)) {
        if (this.idxOf.has(a) || (await this.presentInTarget(a))) { anchored = true; break; }
      }
      if (!anchored && this.o.assumeRoots) {
        this.bump('ORDER_ROOT_ASSUMED');
        this.event('ORDER_ROOT_ASSUMED', p, `"${p}" is not in the input and nothing above it is: taken as existing in the target (give baseDn to say so)`);
        this.releases.push(p);
        yield* this.drain();
        continue;
      }
      if (this.o.createMissingParents) {
        await this.createParents(p);
        yield* this.drain();
        continue;
      }
      yield* this.rejectBelow(p, `parent "${p}" is not in the input${anchored ? '' : ' and not in the target'}`);
    }
    // 3. Anything still waiting waits on a rejected or unresolvable entry: reject, never drop.
    const rest: string[] = [...this.waitMem.keys(), ...this.spilledParents.keys()];
    for (const p of rest) yield* this.rejectBelow(p, `parent "${p}" was not written`);
    // 4. References deferred for an LDAP sink whose targets never got written.
    if (this.o.ldap) {
      for (const [t, list] of this.deferred) {
        const idx = this.idxOf.get(t);
        for (const x of list) {
          if (idx !== undefined) {
            const rec = this.addValueRecord(x);
            this.bump('REF_TARGET_REJECTED');
            this.reject(rec, 'REF_TARGET_REJECTED', `${x.dn}: ${x.name} "${x.value}" names an entry that was rejected; the value was not added`);
          } else if (await this.presentInTarget(t)) {
            this.out.push(this.addValueRecord(x));
          } else {
            this.bump('REF_DANGLING');
            this.event('REF_DANGLING', x.dn, `${x.dn}: ${x.name} "${x.value}" names no entry of the input or the target (${this.o.dangling === 'remove' ? 'removed' : 'kept'})`, { attribute: x.name, value: x.value });
            if (this.o.dangling === 'keep') this.out.push(this.addValueRecord(x));
            else this.bump('REF_DANGLING_REMOVED'); // the entry is written already: 'reject' can only leave the value out
          }
          if (this.out.length >= this.o.batchSize) yield this.takeBatch();
        }
      }
      this.deferred.clear();
    }
  }

  /** Reject every record waiting on `p`, and everything waiting below those. */
  private async *rejectBelow(p: string, why: string): AsyncGenerator<Batch> {
    const stack = [p];
    let top = true;
    while (stack.length) {
      const q = stack.pop()!;
      const [recs, keys] = this.takeWaiting(q);
      const doOne = (r: Rec) => {
        const n = r.ndn!;
        this.setState(this.idxOf.get(n)!, REJECTED);
        this.bump('ORDER_MISSING_PARENT');
        this.reject(r, 'ORDER_MISSING_PARENT', `${describeRecord(r)}: ${top ? why : `an entry above it was rejected (${why})`}`);
        stack.push(n);
      };
      let disk: AsyncIterable<Array<[string, Rec]>> | undefined;
      if (this.spilledParents.has(q)) {
        this.spilledParents.delete(q);
        disk = this.spill!.takePrefix('w\0' + q + '\0');
      }
      for await (const chunk of mergeByKey(recs, keys, disk)) {
        for (const r of chunk) doOne(r);
        if (this.rejects.length >= this.o.batchSize) yield this.takeBatch();
      }
      top = false;
      if (this.rejects.length >= this.o.batchSize) yield this.takeBatch();
    }
  }

  /** Generate the missing parent `p` (and missing entries above it), as the first waiting child spells it. */
  private async createParents(p: string): Promise<void> {
    let spelled = p;
    const l = this.waitMem.get(p);
    const child = l && l.length ? this.recs.get(l[0]) : undefined;
    if (child) spelled = parentDn(child.dn);
    const chain: string[] = [];
    for (let a = spelled; a; a = parentDn(a)) {
      const n = normalizeDn(a);
      if (this.idxOf.has(n) || (await this.presentInTarget(n))) break;
      chain.push(a);
    }
    for (const dn of chain.reverse()) {
      const rdn = rdnOf(dn);
      const type = rdn[0]?.type.toLowerCase() ?? 'cn';
      const classes = this.o.parentClasses[type] ?? ['top', 'extensibleObject'];
      const attrs = new Map<string, Attribute>();
      attrs.set('objectclass', { name: 'objectClass', values: [...classes] });
      for (const ava of rdn) {
        const k = ava.type.toLowerCase();
        const a = attrs.get(k);
        if (a) a.values.push(ava.value);
        else attrs.set(k, { name: ava.type, values: [ava.value] });
      }
      const e: Entry = { kind: 'entry', dn, attrs, category: type === 'ou' ? 'organizational_units' : 'containers' };
      this.bump('ORDER_PARENT_CREATED');
      this.event('ORDER_PARENT_CREATED', dn, `created "${dn}" (objectClass ${classes.join(', ')}) because entries below it came without it`);
      await this.arrive(e);
    }
  }
}

/** Copy the strings of a record that is going to wait, so it does not pin the reader's chunks (see ownString). */
function detach(rec: Rec): void {
  if (rec instanceof TextEntry && rec.buf) { rec.detach(); return; }
  rec.dn = ownString(rec.dn);
  if (rec.ndn !== undefined) rec.ndn = ownString(rec.ndn);
  if (rec.origin) rec.origin = { file: rec.origin.file, line: rec.origin.line, index: rec.origin.index };
  const attrs = new Map<string, Attribute>();
  for (const [k, a] of rec.attrs) {
    const v = a.values;
    for (let i = 0; i < v.length; i++) { const x = v[i]; if (typeof x === 'string') v[i] = ownString(x); }
    a.name = ownString(a.name);
    attrs.set(ownString(k), a);
  }
  rec.attrs = attrs;
}

/**
 * The index of every DN seen: normalized DN -> ordinal (0, 1, 2, ... in the order they were added), with no strings
 * kept. Each ordinal has a 64-bit hash of its DN (two 32-bit hashes) and, next to it, a 64-bit hash of its exact
 * spelling (setSpelling), 16 bytes; an open-addressing table (at most 2/3 full) holds per slot the ordinal and the
 * first half of its hash, so a probe that is not the DN is told apart without reading the ordinal's record: a lookup
 * touches the table once and the record once (the spelling is in the record's cache line). 28-40 bytes an entry,
 * where a Map of strings took ~150. Lookups are most of the ordering stage's end of input (a million member values of held
 * groups), where each is cache misses. Two different DNs share a 64-bit hash with a probability of about
 * n^2 / 2^65 (3e-8 for a million entries, 3e-6 for ten million); the price of that collision would be one entry taken
 * for another. The hash is hash64 (strings.ts): workers hash reference values the same way, and the index is searched
 * by hash (getHashed).
 */
export class DnIndex {
  /** Per slot: ordinal (-1: empty), first half of its hash. */
  private slots = new Int32Array(2 << 12).fill(-1);
  private mask = (1 << 12) - 1;
  /** Per ordinal: the DN's hash halves, its spelling's hash halves. */
  private recs = new Int32Array(4 * 1024);
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** The first slot tried for the hashes (a, b): find, warm and grow must agree on it. */
  private home(a: number, b: number): number {
    return (a ^ b) & this.mask;
  }

  /** The slot holding the ordinal with hashes (a, b), or -1 - the empty slot where it would go. */
  private find(a: number, b: number): number {
    const { slots, recs } = this;
    let i = this.home(a, b);
    for (;;) {
      const v = slots[2 * i];
      if (v < 0) return -1 - i;
      if (slots[2 * i + 1] === a && recs[4 * v + 1] === b) return i;
      i = (i + 1) & this.mask;
    }
  }

  get(ndn: string): number | undefined {
    const h = hash64(ndn);
    return this.getHashed(h[0], h[1]);
  }

  /** The ordinal of the DN with hash64 halves (a, b). */
  getHashed(a: number, b: number): number | undefined {
    const i = this.find(a, b);
    return i < 0 ? undefined : this.slots[2 * i];
  }

  has(ndn: string): boolean {
    return this.get(ndn) !== undefined;
  }

  /** The ordinal of `ndn`: the one it has, else the next one (then `size` grows by one). */
  add(ndn: string): number {
    const h = hash64(ndn);
    return this.addHashed(h[0], h[1]);
  }

  /** add() of the DN with hash64 halves (a, b). */
  addHashed(a: number, b: number): number {
    let i = this.find(a, b);
    if (i >= 0) return this.slots[2 * i];
    const v = this.n++;
    if (4 * v + 3 >= this.recs.length) this.recs = grown(this.recs, 4 * v + 3);
    this.recs[4 * v] = a;
    this.recs[4 * v + 1] = b;
    if (this.n * 3 > (this.slots.length >> 1) * 2) { // over 2/3 of the slots full
      this.grow();
      i = this.find(a, b);
    }
    this.slots[2 * (-1 - i)] = v;
    this.slots[2 * (-1 - i) + 1] = a;
    return v;
  }

  /** The first half of ordinal `v`'s hash (hash64 of its normalized DN). */
  hashOf(v: number): number {
    return this.recs[4 * v];
  }

  private scratch = new Int32Array(256);
  /** Where warm() puts what it read, so the reads are not optimized away. */
  warmed = 0;

  /**
   * Bring into cache the table slots and records of the DNs hashed in `pre` (four numbers a value, hash64 halves of
   * the DN first: a text entry's reference hashes), before they are looked up one by one. Each look-up is two cache
   * misses (its slot, then its ordinal's record), and done in turn, a group's hundred members paid them one after the
   * other (~190 ns a value at the end of input, where the held groups' two million values are looked up). Here each
   * pass is a tight loop of loads that do not depend on each other, so more misses are in flight at once; TLB misses
   * (32 MB of table in 4 KiB pages) limit it: 155 -> 125 ns a value in a microbenchmark of 1.9M look-ups in a 1M index,
   * and the end-of-input look-ups of a 1M run 359 -> 286 ms (main thread cpuprofile).
   */
  warm(pre: Float64Array): void {
    const { slots, recs } = this;
    const n = pre.length >> 2;
    if (this.scratch.length < n) this.scratch = new Int32Array(2 * n);
    const sc = this.scratch;
    let x = 0;
    for (let i = 0; i < n; i++) {
      const s = this.home(pre[4 * i], pre[4 * i + 1]);
      sc[i] = s;
      x ^= slots[2 * s];
    }
    for (let i = 0; i < n; i++) {
      const v = slots[2 * sc[i]];
      if (v >= 0) x ^= recs[4 * v + 1];
    }
    this.warmed = x;
  }

  /** Ordinal `v`'s exact spelling has hash64 halves (a, b). */
  setSpelling(v: number, a: number, b: number): void {
    this.recs[4 * v + 2] = a;
    this.recs[4 * v + 3] = b;
  }

  /** Whether ordinal `v`'s exact spelling has hash64 halves (a, b). */
  spelledAs(v: number, a: number, b: number): boolean {
    return this.recs[4 * v + 2] === a && this.recs[4 * v + 3] === b;
  }

  private grow(): void {
    const old = this.slots;
    const size = old.length; // twice as many slots: two numbers a slot
    this.slots = new Int32Array(2 * size).fill(-1);
    this.mask = size - 1;
    for (let k = 0; k < old.length; k += 2) {
      const v = old[k];
      if (v < 0) continue;
      let i = this.home(this.recs[4 * v], this.recs[4 * v + 1]);
      while (this.slots[2 * i] >= 0) i = (i + 1) & this.mask;
      this.slots[2 * i] = v;
      this.slots[2 * i + 1] = old[k + 1];
    }
  }
}

/**
 * The exact spelling of every DN by ordinal, next to its normalized form, off the JavaScript heap. Nothing when the two
 * are equal; when they have the same length (case only, mostly), the characters that differ, as (distance from the
 * previous difference, character code) varints in one byte pool: a few bytes a DN; else, rarely (spaces around a
 * comma, escapes), the DN itself in a map. A string per entry (~30-40 bytes of heap each, a million of them) lived in
 * the old generation for the whole run, where V8 lets garbage grow to several times what is live.
 */
export class Spellings {
  /** 0: equal to the normalized DN; -1: in `long`; else 1 + the offset of its differences in `pool`. */
  private at = new Int32Array(1024);
  private pool = new Uint8Array(1 << 16);
  private used = 0;
  private readonly long = new Map<number, string>();
  private diffs = new Int32Array(256);

  set(idx: number, dn: string, ndn: string): void {
    if (dn === ndn || dn.length !== ndn.length || this.used > 0x7fff0000) {
      this.setOther(idx, dn, ndn);
      return;
    }
    // One pass over the characters: the differences, as (position, character) pairs in a scratch array.
    if (this.diffs.length < 2 * dn.length) this.diffs = new Int32Array(2 * dn.length);
    const d = this.diffs;
    let k = 0;
    for (let i = 0; i < dn.length; i++) {
      const c = dn.charCodeAt(i);
      if (c !== ndn.charCodeAt(i)) { d[k++] = i; d[k++] = c; }
    }
    this.setDiffs(idx, d, 0, k >> 1, dn, ndn);
  }

  /** Spelled as `ndn` but for `n` characters, given by (position, character code) pairs in `d` from `from` (as a
   * worker sends them, text-record.ts); `dn` and `ndn` are read only if the pool is full. */
  setDiffs(idx: number, d: Int32Array, from: number, n: number, dn: string, ndn: string): void {
    if (n === 0 || this.used > 0x7fff0000) {
      this.setOther(idx, dn, ndn);
      return;
    }
    if (idx >= this.at.length) this.at = grown(this.at, idx);
    if (this.at[idx] === -1) this.long.delete(idx);
    // At most 3 bytes for the count, and 3 + 3 per difference (string lengths and UTF-16 codes stay below 2^21).
    const need = this.used + 3 + n * 6;
    if (need > this.pool.length) this.pool = grown(this.pool, need);
    this.at[idx] = this.used + 1;
    this.varint(n);
    let prev = 0;
    for (let j = from, e = from + 2 * n; j < e; j += 2) {
      this.varint(d[j] - prev);
      this.varint(d[j + 1]);
      prev = d[j] + 1;
    }
  }

  /** Equal to the normalized DN, or kept whole (another length, or the pool full). */
  private setOther(idx: number, dn: string, ndn: string): void {
    if (idx >= this.at.length) this.at = grown(this.at, idx);
    if (this.at[idx] === -1) this.long.delete(idx);
    if (dn === ndn) { this.at[idx] = 0; return; }
    this.long.set(idx, ownString(dn));
    this.at[idx] = -1;
  }

  get(idx: number, ndn: string): string {
    const at = idx < this.at.length ? this.at[idx] : 0;
    if (at === 0) return ndn;
    if (at === -1) return this.long.get(idx)!;
    const pool = this.pool;
    let p = at - 1;
    const read = () => {
      let v = 0;
      for (let shift = 0; ; shift += 7) {
        const b = pool[p++];
        v |= (b & 0x7f) << shift;
        if (b < 0x80) return v;
      }
    };
    let out = '';
    let from = 0;
    for (let n = read(); n > 0; n--) {
      const i = from + read();
      out += ndn.slice(from, i) + String.fromCharCode(read());
      from = i + 1;
    }
    return out + ndn.slice(from);
  }

  private varint(v: number): void {
    while (v >= 0x80) { this.pool[this.used++] = (v & 0x7f) | 0x80; v >>>= 7; }
    this.pool[this.used++] = v;
  }
}

/** A typed array at least `idx + 1` long: half as long again, with the contents copied. */
function grown<T extends Uint8Array | Uint32Array | Int32Array>(a: T, idx: number): T {
  const n = new (a.constructor as new (length: number) => T)(Math.max(idx + 1, Math.ceil(a.length * 1.5)));
  n.set(a);
  return n;
}

/**
 * Records of one group from memory (with their keys, ascending) and from the spill (keyed by the same numbers, or by
 * strings that end in them as 8 hex digits, ascending), merged in key order, a chunk at a time as the disk is read.
 */
async function* mergeByKey(mem: Rec[], memKeys: number[], disk?: AsyncIterable<Array<[string | number, Rec]>>): AsyncGenerator<Rec[]> {
  let h = 0;
  if (disk) {
    for await (const chunk of disk) {
      const out: Rec[] = [];
      for (const [k, r] of chunk) {
        const n = typeof k === 'number' ? k : parseInt(k.slice(-8), 16);
        while (h < mem.length && memKeys[h] < n) out.push(mem[h++]);
        out.push(r);
      }
      yield out;
    }
  }
  if (h < mem.length) yield h === 0 ? mem : mem.slice(h);
}

/** A record's size for the memory budget: a text entry was measured in its worker, as if parsed (text-record.ts). */
function estimate(rec: Rec): number {
  return rec instanceof TextEntry && rec.buf ? rec.heapBytes : heapEstimate(rec);
}

function isDomainOnly(ndn: string): boolean {
  if (!ndn.startsWith('dc=')) return false;
  for (let i = ndn.indexOf(','); i >= 0; i = ndn.indexOf(',', i + 1)) if (!ndn.startsWith('dc=', i + 1)) return false;
  return true;
}

function depth(ndn: string): number {
  let d = 1;
  for (let a = parentDn(ndn); a; a = parentDn(a)) d++;
  return d;
}
