/**
 * writeLdap: an LDAP server as a Sink. Applies entries (as adds) and change records (add, modify, delete,
 * modrdn/moddn) over C connections with at most W operations outstanding on each.
 *
 * Ordering. slapd runs the pipelined requests of one connection concurrently, so a record is held back while
 *  - an operation on the same DN is in flight or held (same-DN records keep their input order),
 *  - an operation on its parent DN is in flight or held (a child never races its parent's add),
 *  - for a delete or a rename: an operation on one of its children is in flight or held,
 *  - for a rename: an operation on the new DN or the new parent is in flight or held;
 *  - for a modify adding DN values of a reference attribute (member, ...): an operation on a named DN is in flight
 *    or held (the dependency stage's deferred member modifications follow their targets closely).
 *
 * Results. Success acknowledges. entryAlreadyExists (68) on an add follows `onExists`: `skip` (counted
 * LDAP_SKIPPED_EXISTS), `replace` (read the entry, modify it to the desired state: LDAP_REPLACED, or
 * LDAP_EXISTS_IDENTICAL when nothing differed) or `fail` (a reject). busy (51), unavailable (52) and a lost
 * connection (reset, refused, closed) are retried with exponential backoff on a fresh, re-bound connection; an
 * operation whose answer was lost is checked against the server when its retry meets "already exists" (or, for a
 * delete, "no such object"), so it is neither lost nor applied twice. After `maxRetryMs` of failing the sink stops
 * with a fatal LdapflowError. Any other result is a Reject coded `LDAP_<RESULT_NAME>` with the server's message.
 *
 * `acknowledge(seq, n)` is called once every record of batch seq is finished, with n = the records written (skipped
 * existing entries included); the others were reported through `reject`, so n + rejects = the batch size.
 */
import { Attribute as LdapAttribute, Change, Control, ResultCodeError, ModifyDNRequest, StatusCodeParser, type Client, type BerWriter } from 'ldapts';
import { LdapflowError } from '../errors.js';
import { parentDn, normalizeDn } from '../dn.js';
import { ndnOf, valuesEqual, type Attribute, type Batch, type LdifRecord, type Value, type Modification } from '../entry.js';
import type { Sink, SinkContext } from '../stage.js';
import {
  connectLdap, isConnectionError, parseLdapUrl, resultCodeName, serverMessage, toValue,
  type LdapTlsOptions, type ParsedLdapUrl,
} from '../sources/ldap-server.js';

export type OnExists = 'skip' | 'replace' | 'fail';

export interface WriteLdapOptions {
  /** `ldap[s]://host:port` (a path, if any, is ignored). */
  url: string;
  bindDn?: string;
  /** Bind password (from -y FILE, env LDAPFLOW_PASSWORD or a prompt; never logged). */
  password?: string;
  tls?: LdapTlsOptions;
  /** What to do when an added entry already exists; default `fail` (a reject). */
  onExists?: OnExists;
  /** Connections; default 4. */
  connections?: number;
  /** Operations outstanding per connection; default 32. */
  inFlight?: number;
  /** Give up after this many milliseconds of the server being unreachable or busy; default 120000. */
  maxRetryMs?: number;
  /** Milliseconds for a TCP/TLS connect; default 10000. */
  connectTimeoutMs?: number;
  /** Milliseconds an operation may stay unanswered before its connection is dropped and the operation retried
   * (a hung server); default 300000. */
  timeoutMs?: number;
  /** Drop server-managed operational attributes (createTimestamp, entryUUID, ...) from adds, counted
   * LDAP_DROPPED_OPERATIONAL; default true. */
  dropOperational?: boolean;
  /**
   * DN-valued attributes: a modify that adds or replaces values of these waits while an add of a DN it names is in
   * flight (the dependency stage's deferred member modifications come right behind their targets' adds).
   * Default: member, uniqueMember, owner, manager, seeAlso, secretary, roleOccupant.
   */
  referenceAttributes?: string[];
  /** A resumed run (src/state/checkpoint.ts): records after the checkpoint may be in the server already, so every
   * operation is treated like the retry of one whose answer was lost (entryAlreadyExists with the desired values
   * present, a value already there, a delete of a missing entry count as done: LDAP_RETRY_CONFIRMED). */
  resumeMode?: boolean;
  /** With resumeMode: when the interrupted run began (ISO time). An add that meets an entry in another state is then
   * confirmed when that entry was created since by the bind DN: the interrupted run made it, and a later record it had
   * sent already (a duplicate's modify) changed it; the replay sends that record again. */
  resumeSince?: string;
}

/** Attributes the server manages itself (NO-USER-MODIFICATION in OpenLDAP, OUD, AD, 389-DS): never sent in an add. */
const SERVER_MANAGED = new Set([
  'createtimestamp', 'modifytimestamp', 'creatorsname', 'modifiersname', 'entryuuid', 'entrycsn', 'entrydn',
  'subschemasubentry', 'hassubordinates', 'numsubordinates', 'structuralobjectclass', 'contextcsn', 'pwdchangedtime',
  'nsuniqueid', 'entryid', 'ds-entry-unique-id', 'ds-sync-hist', 'ds-sync-state', 'ds-sync-generation-id', 'subordinatecount',
  'memberof', 'ismemberof', 'pwdhistory', 'pwdfailuretime', 'pwdaccountlockedtime', 'authtimestamp',
]);

const RETRY_CODES = new Set([51, 52]);

/** A modify "increment" change (RFC 4525): ldapts' Change writes only add/delete/replace. */
class IncrementChange extends Change {
  override write(writer: BerWriter): void {
    writer.startSequence();
    writer.writeEnumeration(3);
    this.modification.write(writer);
    writer.endSequence();
  }
}

/** A control from an LDIF record, written as it was read. */
class RawControl extends Control {
  constructor(oid: string, critical: boolean, private readonly raw: Buffer | null) {
    super(oid, { critical });
  }
  protected override writeControl(writer: BerWriter): void {
    if (this.raw) writer.writeBuffer(this.raw, 0x04);
  }
}

const STATE_PENDING = 0;
const STATE_RUNNING = 1;
const STATE_DONE = 2;

interface BatchTrack {
  seq: number;
  n: number;
  left: number;
  /** Records of the batch the server refused (rejects): not counted as written. */
  rejected: number;
}

interface Item {
  rec: LdifRecord;
  ndn: string;
  pndn: string;
  /** moddn: the new DN and its parent, normalized. */
  newNdn?: string;
  newPndn?: string;
  /** modify: normalized DNs its added/replaced reference values name. */
  refs?: string[];
  /** Delete and rename must wait for operations on children. */
  guardsChildren: boolean;
  bt: BatchTrack;
  order: number;
  state: number;
  /** The last attempt lost its connection before the answer: the server may have applied it. */
  lost: boolean;
  /** Not before this time (ms) when retrying after busy/unavailable. */
  notBefore: number;
  firstFailure: number;
  attempts: number;
}

interface Conn {
  id: number;
  client: Client | null;
  up: boolean;
  inflight: number;
  /** When this connection went down (for the retry deadline). */
  downSince: number;
  reconnecting: boolean;
}

function toBuffer(v: Value): Buffer | string {
  return typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function ldapAttr(name: string, values: Value[]): LdapAttribute {
  return new LdapAttribute({ type: name, values: values.map(toBuffer) as string[] | Buffer[] });
}

/** Every user value of `desired` is in `current`. */
function holds(current: Map<string, Value[]>, desired: Map<string, Attribute>): boolean {
  for (const [key, a] of desired) {
    if (SERVER_MANAGED.has(key)) continue;
    const cur = current.get(key);
    if (!cur) { if (a.values.length) return false; continue; }
    for (const v of a.values) if (!cur.some((c) => valuesEqual(v, c) || sameDn(v, c))) return false;
  }
  return true;
}

/** DN-syntax values the server stored in its own spelling (OpenLDAP drops the blanks after commas). */
function sameDn(a: Value, b: Value): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || !a.includes('=')) return false;
  try { return normalizeDn(a) === normalizeDn(b); } catch { return false; }
}

function sameValues(a: Value[], b: Value[]): boolean {
  if (a.length !== b.length) return false;
  const used = new Array<boolean>(b.length).fill(false);
  outer: for (const x of a) {
    for (let j = 0; j < b.length; j++) {
      if (!used[j] && (valuesEqual(x, b[j]) || sameDn(x, b[j]))) { used[j] = true; continue outer; }
    }
    return false;
  }
  return true;
}

export function writeLdap(opts: WriteLdapOptions): Sink {
  return new LdapSink(opts);
}

class LdapSink implements Sink {
  readonly kind = 'ldap' as const;
  private readonly u: ParsedLdapUrl;
  private readonly C: number;
  private readonly W: number;
  private readonly onExists: OnExists;
  private readonly maxRetryMs: number;
  private readonly dropOperational: boolean;
  private readonly refAttrs: Set<string>;
  private ctx!: SinkContext;
  private conns: Conn[] = [];
  private rr = 0;

  private queue: Item[] = [];
  private qHead = 0;
  /** Items to retry, in input order; scanned before the queue. */
  private retry: Item[] = [];
  private order = 0;
  private pending = 0;
  private readonly highWater: number;
  /** Normalized DNs with operations in flight, and parents of those. */
  private busyDn = new Map<string, number>();
  private busyParent = new Map<string, number>();

  private fatal: LdapflowError | null = null;
  private roomWaiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private drainWaiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private pumpScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly opts: WriteLdapOptions) {
    if (!opts || typeof opts.url !== 'string') throw new LdapflowError('OPTION_INVALID', 'writeLdap: option "url" must be an LDAP URL');
    this.u = parseLdapUrl(opts.url, 'writeLdap: option "url"');
    this.C = opts.connections ?? 4;
    this.W = opts.inFlight ?? 32;
    if (!Number.isInteger(this.C) || this.C < 1 || this.C > 256) throw new LdapflowError('OPTION_INVALID', `writeLdap: option "connections" must be an integer from 1 to 256, got ${opts.connections}`);
    if (!Number.isInteger(this.W) || this.W < 1 || this.W > 4096) throw new LdapflowError('OPTION_INVALID', `writeLdap: option "inFlight" must be an integer from 1 to 4096, got ${opts.inFlight}`);
    this.onExists = opts.onExists ?? 'fail';
    if (!['skip', 'replace', 'fail'].includes(this.onExists)) throw new LdapflowError('OPTION_INVALID', `writeLdap: option "onExists" must be skip, replace or fail, got "${opts.onExists}"`);
    this.maxRetryMs = opts.maxRetryMs ?? 120000;
    this.dropOperational = opts.dropOperational ?? true;
    this.refAttrs = new Set((opts.referenceAttributes ?? ['member', 'uniqueMember', 'owner', 'manager', 'seeAlso', 'secretary', 'roleOccupant']).map((a) => a.toLowerCase()));
    this.highWater = Math.max(3000, 4 * this.C * this.W);
  }

  get name(): string {
    return this.u.display;
  }

  private connect(): Promise<Client> {
    return connectLdap(this.u, { dn: this.opts.bindDn, password: this.opts.password },
      { tls: this.opts.tls, connectTimeoutMs: this.opts.connectTimeoutMs, timeoutMs: this.opts.timeoutMs ?? 300000 });
  }

  async open(ctx: SinkContext): Promise<void> {
    this.ctx = ctx;
    // The first connection alone: a wrong password or an unreachable server is one error, not C of them.
    const first = await this.connect();
    this.conns.push({ id: 0, client: first, up: true, inflight: 0, downSince: 0, reconnecting: false });
    const rest = await Promise.allSettled(Array.from({ length: this.C - 1 }, () => this.connect()));
    for (let i = 0; i < rest.length; i++) {
      const r = rest[i];
      if (r.status === 'rejected') {
        for (const c of this.conns) c.client?.unbind().catch(() => {});
        for (const o of rest) if (o.status === 'fulfilled') o.value.unbind().catch(() => {});
        throw r.reason;
      }
      this.conns.push({ id: i + 1, client: r.value, up: true, inflight: 0, downSince: 0, reconnecting: false });
    }
  }

  async write(batch: Batch): Promise<void> {
    if (this.fatal) throw this.fatal;
    const recs = batch.records;
    const bt: BatchTrack = { seq: batch.seq, n: recs.length, left: recs.length, rejected: 0 };
    if (recs.length === 0) {
      this.ctx.acknowledge(batch.seq, 0);
      return;
    }
    this.pending += recs.length;
    for (const rec of recs) {
      let ndn: string;
      try {
        ndn = ndnOf(rec);
      } catch (err) {
        const e = err as LdapflowError;
        this.ctx.reject({ code: e.code ?? 'DN_INVALID', message: e.message, dn: rec.dn, origin: rec.origin, record: rec });
        bt.rejected++;
        this.finishTrack(bt);
        continue;
      }
      const item: Item = {
        rec, ndn, pndn: parentDn(ndn), guardsChildren: false, bt, order: this.order++, state: STATE_PENDING,
        lost: this.opts.resumeMode === true, notBefore: 0, firstFailure: 0, attempts: 0,
      };
      if (rec.kind === 'change') {
        if (rec.changetype === 'modify') this.collectRefs(item, rec.mods);
        else if (rec.changetype === 'delete') item.guardsChildren = true;
        else if (rec.changetype === 'modrdn' || rec.changetype === 'moddn') {
          item.guardsChildren = true;
          try {
            const sup = rec.newsuperior !== null ? normalizeDn(rec.newsuperior) : item.pndn;
            item.newNdn = normalizeDn(rec.newrdn) + (sup ? ',' + sup : '');
            item.newPndn = sup;
          } catch (err) {
            const e = err as LdapflowError;
            this.ctx.reject({ code: e.code ?? 'DN_INVALID', message: `modrdn ${rec.dn}: ${e.message}`, dn: rec.dn, origin: rec.origin, record: rec });
            bt.rejected++;
            this.finishTrack(bt);
            continue;
          }
        }
      }
      this.queue.push(item);
    }
    this.pump();
    if (this.pending >= this.highWater) {
      await new Promise<void>((resolve, reject) => { this.roomWaiter = { resolve, reject }; });
    }
    if (this.fatal) throw this.fatal;
  }

  async close(): Promise<void> {
    this.closing = true;
    try {
      if (this.fatal) throw this.fatal;
      if (this.pending > 0) await new Promise<void>((resolve, reject) => { this.drainWaiter = { resolve, reject }; });
      if (this.fatal) throw this.fatal;
    } finally {
      await this.release();
    }
  }

  /** Checkpoints: resolves once every record accepted so far is finished and acknowledged. */
  async sync(): Promise<null> {
    if (this.fatal) throw this.fatal;
    if (this.pending > 0) {
      await new Promise<void>((resolve, reject) => { this.drainWaiter = { resolve, reject }; });
      if (this.fatal) throw this.fatal;
    }
    return null;
  }

  async abort(): Promise<void> {
    this.closing = true;
    // Nothing new starts; what is in flight gets up to 5 s to come back (and be acknowledged).
    this.queue = [];
    this.qHead = 0;
    this.retry = [];
    const end = Date.now() + 5000;
    while (this.conns.some((c) => c.inflight > 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    if (!this.fatal) this.fatal = new LdapflowError('LDAP_ABORTED', `writing to ${this.u.server} was stopped`);
    this.wake();
    await this.release();
  }

  private async release(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await Promise.all(this.conns.map(async (c) => {
      const cl = c.client;
      c.client = null;
      c.up = false;
      if (cl) try { await cl.unbind(); } catch { /* gone */ }
    }));
  }

  // ---- bookkeeping ---------------------------------------------------------------------------------------------

  private finishTrack(bt: BatchTrack): void {
    this.pending--;
    if (--bt.left === 0) this.ctx.acknowledge(bt.seq, bt.n - bt.rejected);
    if (this.roomWaiter && this.pending < this.highWater) {
      const w = this.roomWaiter;
      this.roomWaiter = null;
      w.resolve();
    }
    if (this.drainWaiter && this.pending === 0) {
      const w = this.drainWaiter;
      this.drainWaiter = null;
      w.resolve();
    }
  }

  private finish(item: Item): void {
    item.state = STATE_DONE;
    this.finishTrack(item.bt);
  }

  private rejectItem(item: Item, code: string, message: string): void {
    this.ctx.reject({ code, message, dn: item.rec.dn, origin: item.rec.origin, record: item.rec });
    item.bt.rejected++;
    this.finish(item);
  }

  private setFatal(err: LdapflowError): void {
    if (this.fatal) return;
    this.fatal = err;
    this.wake();
  }

  private wake(): void {
    const e = this.fatal;
    if (!e) return;
    const r = this.roomWaiter;
    this.roomWaiter = null;
    r?.reject(e);
    const d = this.drainWaiter;
    this.drainWaiter = null;
    d?.reject(e);
  }

  private inc(m: Map<string, number>, k: string): void {
    m.set(k, (m.get(k) ?? 0) + 1);
  }

  private dec(m: Map<string, number>, k: string): void {
    const n = (m.get(k) ?? 0) - 1;
    if (n <= 0) m.delete(k);
    else m.set(k, n);
  }

  private mark(item: Item): void {
    this.inc(this.busyDn, item.ndn);
    this.inc(this.busyParent, item.pndn);
    if (item.newNdn !== undefined) { this.inc(this.busyDn, item.newNdn); this.inc(this.busyParent, item.newPndn!); }
  }

  private unmark(item: Item): void {
    this.dec(this.busyDn, item.ndn);
    this.dec(this.busyParent, item.pndn);
    if (item.newNdn !== undefined) { this.dec(this.busyDn, item.newNdn); this.dec(this.busyParent, item.newPndn!); }
  }

  // ---- scheduling ----------------------------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private freeConn(): Conn | null {
    const n = this.conns.length;
    for (let k = 0; k < n; k++) {
      const c = this.conns[(this.rr + k) % n];
      if (c.up && c.inflight < this.W) {
        this.rr = (this.rr + k + 1) % n;
        return c;
      }
    }
    return null;
  }

  private pump(): void {
    if (this.fatal) return;
    let conn = this.freeConn();
    if (!conn) return;
    const held = new Set<string>();
    const heldParent = new Set<string>();
    const now = Date.now();
    let nextWake = Infinity;
    let scanned = 0;
    const consider = (item: Item): boolean => {
      if (item.state !== STATE_PENDING) return true;
      const ok = item.notBefore <= now && this.canRun(item, held, heldParent);
      if (!ok) {
        if (item.notBefore > now) nextWake = Math.min(nextWake, item.notBefore);
        held.add(item.ndn);
        heldParent.add(item.pndn);
        if (item.newNdn !== undefined) { held.add(item.newNdn); heldParent.add(item.newPndn!); }
        scanned++;
        return true;
      }
      this.dispatch(item, conn!);
      conn = this.freeConn();
      return conn !== null;
    };
    // Retries first: they come before everything still queued that could depend on them.
    if (this.retry.length) {
      for (const item of this.retry) if (!consider(item)) break;
      this.retry = this.retry.filter((i) => i.state === STATE_PENDING);
    }
    if (conn) {
      const q = this.queue;
      for (let i = this.qHead; i < q.length && scanned < 20000; i++) {
        if (!consider(q[i])) break;
      }
      while (this.qHead < q.length && q[this.qHead].state !== STATE_PENDING) this.qHead++;
      if (this.qHead > 4096 && this.qHead * 2 > q.length) {
        this.queue = q.slice(this.qHead);
        this.qHead = 0;
      }
    }
    if (nextWake !== Infinity && !this.retryTimer) {
      this.retryTimer = setTimeout(() => { this.retryTimer = null; this.pump(); }, Math.max(1, nextWake - Date.now()));
    }
  }

  private collectRefs(item: Item, mods: Modification[]): void {
    let refs: string[] | undefined;
    for (const m of mods) {
      if ((m.op !== 'add' && m.op !== 'replace') || !this.refAttrs.has(m.name.toLowerCase())) continue;
      for (const v of m.values) {
        if (typeof v !== 'string' || !v.includes('=')) continue;
        try { (refs ??= []).push(normalizeDn(v)); } catch { /* not a DN: the server will say so */ }
      }
    }
    if (refs) item.refs = refs;
  }

  private canRun(item: Item, held: Set<string>, heldParent: Set<string>): boolean {
    const b = this.busyDn;
    if (item.refs) for (const r of item.refs) if (b.has(r) || held.has(r)) return false;
    if (b.has(item.ndn) || held.has(item.ndn)) return false;
    if (item.pndn && (b.has(item.pndn) || held.has(item.pndn))) return false;
    if (item.guardsChildren && (this.busyParent.has(item.ndn) || heldParent.has(item.ndn))) return false;
    if (item.newNdn !== undefined) {
      if (b.has(item.newNdn) || held.has(item.newNdn)) return false;
      if (item.newPndn && (b.has(item.newPndn) || held.has(item.newPndn))) return false;
    }
    return true;
  }

  private corked: Array<{ uncork(): void }> = [];

  /**
   * Hold this connection's socket writes until the current round of dispatches is done, so many requests leave in
   * one writev instead of one syscall each (ldapts writes each request as it is made, a microtask after the call).
   */
  private cork(conn: Conn): void {
    const sock = (conn.client as unknown as { socket?: { cork(): void; uncork(): void; writableCorked?: number } } | null)?.socket;
    if (!sock || typeof sock.cork !== 'function' || (sock.writableCorked ?? 0) > 0) return;
    sock.cork();
    if (this.corked.push(sock) === 1) {
      setImmediate(() => {
        const list = this.corked;
        this.corked = [];
        for (const x of list) try { x.uncork(); } catch { /* closed */ }
      });
    }
  }

  private dispatch(item: Item, conn: Conn): void {
    item.state = STATE_RUNNING;
    this.cork(conn);
    conn.inflight++;
    this.mark(item);
    void this.exec(item, conn);
  }

  // ---- operations ----------------------------------------------------------------------------------------------

  private async exec(item: Item, conn: Conn): Promise<void> {
    const client = conn.client;
    try {
      // ldapts would silently reconnect an unbound socket anonymously: never send on a connection that is down.
      if (!client || !conn.up || !client.isConnected) throw Object.assign(new Error('Socket connection not established'), { lostBeforeSend: true });
      await this.apply(client, item);
      this.finish(item);
    } catch (err) {
      await this.onError(item, conn, client, err);
    } finally {
      conn.inflight--;
      this.unmark(item);
      this.schedulePump();
    }
  }

  private controls(rec: LdifRecord): Control[] | undefined {
    if (!rec.controls?.length) return undefined;
    return rec.controls.map((c) => new RawControl(c.oid, c.criticality, c.value === null ? null : Buffer.from(typeof c.value === 'string' ? Buffer.from(c.value, 'utf8') : c.value)));
  }

  private addAttributes(item: Item, attrs: Map<string, Attribute>): LdapAttribute[] {
    const out: LdapAttribute[] = [];
    for (const [key, a] of attrs) {
      if (this.dropOperational && SERVER_MANAGED.has(key)) {
        this.ctx.count('LDAP_DROPPED_OPERATIONAL');
        continue;
      }
      if (a.values.length) out.push(ldapAttr(a.name, a.values));
    }
    return out;
  }

  private async apply(client: Client, item: Item): Promise<void> {
    const rec = item.rec;
    const ctl = this.controls(rec);
    if (rec.kind === 'entry' || rec.changetype === 'add') {
      await client.add(rec.dn, this.addAttributes(item, rec.attrs), ctl);
      return;
    }
    switch (rec.changetype) {
      case 'delete':
        await client.del(rec.dn, ctl);
        return;
      case 'modify': {
        const changes = rec.mods.map((m: Modification) => {
          const modification = ldapAttr(m.name, m.values);
          return m.op === 'increment' ? new IncrementChange({ operation: 'replace', modification }) : new Change({ operation: m.op, modification });
        });
        await client.modify(rec.dn, changes, ctl);
        return;
      }
      case 'modrdn':
      case 'moddn': {
        // ldapts' modifyDN always deletes the old RDN and splits the new DN itself: send the request as written.
        const req = new ModifyDNRequest({
          messageId: (client as unknown as { _nextMessageId(): number })._nextMessageId(),
          dn: rec.dn, newRdn: rec.newrdn, deleteOldRdn: rec.deleteoldrdn,
          ...(rec.newsuperior !== null ? { newSuperior: rec.newsuperior } : {}),
          ...(ctl ? { controls: ctl } : {}),
        });
        const result = await (client as unknown as { _send(m: unknown): Promise<{ status: number } | undefined> })._send(req);
        if (result?.status !== 0) throw StatusCodeParser.parse(result as never);
        return;
      }
    }
  }

  private opName(rec: LdifRecord): string {
    return rec.kind === 'entry' ? 'add' : rec.changetype;
  }

  private async onError(item: Item, conn: Conn, client: Client | null, err: unknown): Promise<void> {
    if (err instanceof ResultCodeError) {
      const code = err.code;
      if (RETRY_CODES.has(code)) return this.retryLater(item, err, `${resultCodeName(code)}: ${serverMessage(err)}`);
      try {
        if (await this.resolveResult(item, client!, code)) return;
      } catch (e2) {
        if (isConnectionError(e2)) return this.connectionLost(item, conn, client, e2);
        if (!(e2 instanceof ResultCodeError)) throw e2;
        this.rejectItem(item, resultCodeName(e2.code), `${this.opName(item.rec)} ${item.rec.dn} (replacing the existing entry): ${serverMessage(e2)} (result ${e2.code})`);
        return;
      }
      this.rejectItem(item, resultCodeName(code), `${this.opName(item.rec)} ${item.rec.dn}: ${serverMessage(err)} (result ${code})`);
      return;
    }
    if (isConnectionError(err)) return this.connectionLost(item, conn, client, err);
    // A client-side failure (a value the encoder refuses, ...): this record only.
    this.rejectItem(item, 'LDAP_CLIENT_ERROR', `${this.opName(item.rec)} ${item.rec.dn}: ${(err as Error).message ?? String(err)}`);
  }

  /** True when the result was handled (finished). */
  private async resolveResult(item: Item, client: Client, code: number): Promise<boolean> {
    const rec = item.rec;
    const isAdd = rec.kind === 'entry' || rec.changetype === 'add';
    if (isAdd && code === 68) {
      const desired = (rec as { attrs: Map<string, Attribute> }).attrs;
      if (item.lost) {
        const current = await this.readEntry(client, rec.dn);
        // A resumed run also accepts an entry that holds more: the deferred reference values added after it.
        if (current && (this.diff(desired, current).length === 0 || (this.opts.resumeMode && holds(current, desired)))) {
          this.ctx.count('LDAP_RETRY_CONFIRMED');
          this.finish(item);
          return true;
        }
        if (current && this.opts.resumeMode && this.opts.resumeSince && (await this.createdByThisRun(client, rec.dn, this.opts.resumeSince))) {
          this.ctx.count('LDAP_RETRY_CONFIRMED');
          this.finish(item);
          return true;
        }
      }
      if (this.onExists === 'skip') {
        this.ctx.count('LDAP_SKIPPED_EXISTS');
        this.finish(item);
        return true;
      }
      if (this.onExists === 'replace') {
        const current = await this.readEntry(client, rec.dn);
        if (!current) return false; // deleted meanwhile: report the original result
        const changes = this.diff(desired, current);
        if (changes.length === 0) this.ctx.count('LDAP_EXISTS_IDENTICAL');
        else {
          await client.modify(rec.dn, changes);
          this.ctx.count('LDAP_REPLACED');
        }
        this.finish(item);
        return true;
      }
      return false;
    }
    if (item.lost && rec.kind === 'change') {
      // The lost attempt may have been applied: its retry then meets the state it created.
      if (rec.changetype === 'delete' && code === 32) {
        this.ctx.count('LDAP_RETRY_CONFIRMED');
        this.finish(item);
        return true;
      }
      if (rec.changetype === 'modify' && (code === 20 || code === 16)) {
        this.ctx.count('LDAP_RETRY_CONFIRMED');
        this.finish(item);
        return true;
      }
      if ((rec.changetype === 'modrdn' || rec.changetype === 'moddn') && (code === 32 || code === 68)) {
        const newDn = rec.newrdn + ',' + (rec.newsuperior ?? parentDn(rec.dn));
        const [oldE, newE] = await Promise.all([this.readEntry(client, rec.dn), this.readEntry(client, newDn)]);
        if (!oldE && newE) {
          this.ctx.count('LDAP_RETRY_CONFIRMED');
          this.finish(item);
          return true;
        }
      }
    }
    return false;
  }

  /** Whether the entry was created by our bind DN at or after `since` (its createTimestamp has whole seconds). */
  private async createdByThisRun(client: Client, dn: string, since: string): Promise<boolean> {
    if (!this.opts.bindDn) return false;
    try {
      const r = await client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['createTimestamp', 'creatorsName'] });
      const e = r.searchEntries[0];
      const ts = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,]\d+)?Z$/i.exec(String(e?.createTimestamp ?? ''));
      if (!e || !ts) return false;
      const created = Date.UTC(+ts[1], +ts[2] - 1, +ts[3], +ts[4], +ts[5], +ts[6]);
      if (!(created >= Math.floor(Date.parse(since) / 1000) * 1000)) return false;
      return normalizeDn(String(e.creatorsName ?? '')) === normalizeDn(this.opts.bindDn);
    } catch {
      return false;
    }
  }

  /** The user attributes of an entry, or null when it does not exist. */
  private async readEntry(client: Client, dn: string): Promise<Map<string, Value[]> | null> {
    try {
      const r = await client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['*'] });
      const e = r.searchEntries[0];
      if (!e) return null;
      const out = new Map<string, Value[]>();
      for (const key in e) {
        if (key === 'dn' || key === '*') continue;
        const raw = e[key];
        const list = Array.isArray(raw) ? raw : [raw];
        if (list.length) out.set(key.toLowerCase(), list.map(toValue));
      }
      return out;
    } catch (err) {
      if (err instanceof ResultCodeError && err.code === 32) return null;
      throw err;
    }
  }

  /** The modify changes that bring `current` to `desired` (user attributes; server-managed ones left alone). */
  private diff(desired: Map<string, Attribute>, current: Map<string, Value[]>): Change[] {
    const changes: Change[] = [];
    for (const [key, a] of desired) {
      if (SERVER_MANAGED.has(key) || !a.values.length) continue;
      const cur = current.get(key);
      if (!cur || !sameValues(a.values, cur)) changes.push(new Change({ operation: 'replace', modification: ldapAttr(a.name, a.values) }));
    }
    for (const [key] of current) {
      if (!desired.has(key) && !SERVER_MANAGED.has(key)) changes.push(new Change({ operation: 'replace', modification: ldapAttr(key, []) }));
    }
    return changes;
  }

  private retryLater(item: Item, err: unknown, why: string): void {
    const now = Date.now();
    if (!item.firstFailure) item.firstFailure = now;
    if (now - item.firstFailure > this.maxRetryMs) {
      this.setFatal(new LdapflowError('LDAP_UNAVAILABLE', `${this.u.server} kept refusing ${this.opName(item.rec)} ${item.rec.dn} for ${Math.round((now - item.firstFailure) / 1000)} s (${why}); giving up`, { dn: item.rec.dn, cause: err }));
      return;
    }
    item.notBefore = now + Math.min(2000, 50 * 2 ** Math.min(item.attempts++, 10));
    this.requeue(item);
    this.ctx.count('LDAP_RETRIED');
  }

  private requeue(item: Item): void {
    item.state = STATE_PENDING;
    // Keep the retry list in input order.
    const r = this.retry;
    let i = r.length;
    while (i > 0 && r[i - 1].order > item.order) i--;
    r.splice(i, 0, item);
  }

  private connectionLost(item: Item, conn: Conn, client: Client | null, err: unknown): void {
    // An operation that never left (lostBeforeSend) cannot have been applied.
    if (!(err as { lostBeforeSend?: boolean }).lostBeforeSend) item.lost = true;
    item.notBefore = 0;
    this.requeue(item);
    this.ctx.count('LDAP_RETRIED');
    if (conn.client === client && conn.up) {
      conn.up = false;
      conn.downSince = Date.now();
      if (client) client.unbind().catch(() => {});
      conn.client = null;
    }
    if (!conn.reconnecting && !conn.up) void this.reconnect(conn, err);
  }

  private async reconnect(conn: Conn, cause: unknown): Promise<void> {
    conn.reconnecting = true;
    let delay = 50;
    try {
      for (;;) {
        if (this.fatal || (this.closing && this.pending === 0)) return;
        await new Promise((r) => setTimeout(r, delay));
        try {
          const c = await this.connect();
          if (this.fatal) { c.unbind().catch(() => {}); return; }
          conn.client = c;
          conn.up = true;
          conn.downSince = 0;
          this.ctx.count('LDAP_RECONNECTED');
          this.schedulePump();
          return;
        } catch (err) {
          const e = err as LdapflowError;
          if (e.code === 'LDAP_INVALID_CREDENTIALS' || e.code === 'LDAP_TLS_CERTIFICATE') { this.setFatal(e); return; }
          const down = Date.now() - conn.downSince;
          if (down > this.maxRetryMs) {
            this.setFatal(new LdapflowError('LDAP_UNAVAILABLE', `lost the connection to ${this.u.server} and could not reconnect for ${Math.round(down / 1000)} s (${e.message ?? String(e)}); giving up`, { cause: cause }));
            return;
          }
          delay = Math.min(delay * 2, 2000);
        }
      }
    } finally {
      conn.reconnecting = false;
    }
  }
}
