/**
 * Checkpoints: what a run has durably done, in a LevelDB under the state directory (`--state DIR`, default
 * `.ldapflow/<run-id>`), so a killed run resumes with nothing lost and nothing written twice.
 *
 * What is stored (key `identity`, written once; key `checkpoint`, rewritten at every checkpoint, synced):
 * - the run's identity: the source fingerprint (absolute path, size, mtime, SHA-256 of the first and the last MiB),
 *   the sink, and the options that change the output (with their hash). A resume refuses when any of them changed.
 * - the checkpoint proper, taken only at a quiescent point of the pipeline (every batch handed to the sink has been
 *   acknowledged, every reject written): how many records reached the sink (`sinkRecords`), how many rejects came down
 *   the stream (`streamRejects`: parser and stage rejects, not the sink's), the byte offsets of the LDIF output
 *   (`FILE.partial`) and of the reject file, both fsynced before they are recorded, and the counters.
 *
 * How a resume uses it (src/pipeline.ts): the pipeline is deterministic (the reader, the map stages even on workers,
 * and the ordering barrier emit the same records in the same order for the same input and options), so a resumed run
 * reads the input again from the start and runs every stage, which rebuilds the ordering stage's state exactly
 * (parents present, duplicates, rejected subtrees, held and deferred references, spill), and drops, just before the
 * sink, the first `sinkRecords` records and the first `streamRejects` rejects: those are already in the output (cut
 * back to its checkpoint offset) and in the reject file (cut back likewise). Nothing is skipped that was not written;
 * nothing written before the checkpoint is written again. Work after the checkpoint is done again: an LDIF output
 * was cut back, so it is written once; an LDAP server may already hold it, which the LDAP sink's resume mode accepts
 * when the entry matches (src/sinks/ldap-server.ts).
 *
 * This is why no written-DN list, deferred modification or spilled entry is stored: replaying the input rebuilds them,
 * and an input position alone could not say what an LDIF output holds once the ordering stage has reordered records.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Level } from 'level';
import { LdapflowError } from '../errors.js';

export interface SourceFingerprint {
  path: string;
  size: number;
  mtimeMs: number;
  /** SHA-256 (hex) of the first MiB and of the last MiB. */
  head: string;
  tail: string;
}

export interface RunIdentity {
  version: 1;
  runId: string;
  source: SourceFingerprint;
  /** The sink as given (path or URL without credentials). */
  sink: string;
  /** The options that change the output, as plain data (for a message that names what changed). */
  config: Record<string, unknown>;
  configHash: string;
  /** What `ldapflow resume DIR` needs to run the same command again (no secrets: paths and names only). */
  command: { source: string; sink: string; options: Record<string, unknown>; rejectFile?: string };
}

export interface CheckpointData {
  status: 'running' | 'done';
  /** Records handed to the sink and acknowledged, in the order they reached it. */
  sinkRecords: number;
  /** Parser and stage rejects written to the reject file (the sink's own rejects not included). */
  streamRejects: number;
  /** Bytes of the LDIF output (FILE.partial) that hold exactly those records; null for an LDAP sink. */
  sinkBytes: number | null;
  /** Bytes of the reject file; null when it was not created yet. */
  rejectBytes: number | null;
  rejectFile: string | null;
  written: number;
  rejected: number;
  rejects: Record<string, number>;
  /** Counts reported by the sink (stage counts are rebuilt by the replay). */
  sinkCounts: Record<string, number>;
  /** When it was taken (ISO 8601), and how many checkpoints this run took. */
  at: string;
  serial: number;
}

const MIB = 1 << 20;

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Path, size, mtime and hashes of the first and last MiB of a local file. */
export function fingerprintSource(path: string): SourceFingerprint {
  const abs = resolve(path);
  let fd: number;
  try {
    fd = openSync(abs, 'r');
  } catch (err) {
    throw new LdapflowError('STATE_SOURCE_UNREADABLE', `cannot read the source to fingerprint it: ${(err as Error).message}`, { file: path });
  }
  try {
    const st = fstatSync(fd);
    const headLen = Math.min(MIB, st.size);
    const head = Buffer.alloc(headLen);
    readSync(fd, head, 0, headLen, 0);
    const tailLen = Math.min(MIB, st.size);
    const tail = Buffer.alloc(tailLen);
    readSync(fd, tail, 0, tailLen, st.size - tailLen);
    return { path: abs, size: st.size, mtimeMs: Math.trunc(st.mtimeMs), head: sha256(head), tail: sha256(tail) };
  } finally {
    closeSync(fd);
  }
}

/** A stable JSON text: object keys sorted, undefined left out. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return '[' + v.map((x) => canonicalJson(x ?? null)).join(',') + ']';
  const o = v as Record<string, unknown>;
  return '{' + Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
}

export function hashConfig(config: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

/** The run id: 16 hex digits from the source fingerprint, the sink and the config hash. */
export function runIdOf(source: SourceFingerprint, sink: string, configHash: string): string {
  return createHash('sha256').update(canonicalJson({ source, sink, configHash })).digest('hex').slice(0, 16);
}

export function makeIdentity(source: SourceFingerprint, sink: string, config: Record<string, unknown>, command: RunIdentity['command']): RunIdentity {
  const configHash = hashConfig(config);
  return { version: 1, runId: runIdOf(source, sink, configHash), source, sink, config, configHash, command };
}

/**
 * Why a stored identity does not match the current one, as one readable clause; null when it matches.
 * Names the first difference: the source file (which property), the sink, or the options that differ.
 */
export function identityMismatch(stored: RunIdentity, now: RunIdentity): string | null {
  const a = stored.source, b = now.source;
  if (a.path !== b.path) return `the source is ${b.path}, the checkpoint is of ${a.path}`;
  if (a.size !== b.size) return `the source ${b.path} changed since the checkpoint (size ${a.size} -> ${b.size} bytes)`;
  if (a.head !== b.head || a.tail !== b.tail) return `the source ${b.path} changed since the checkpoint (its content differs)`;
  if (a.mtimeMs !== b.mtimeMs) return `the source ${b.path} changed since the checkpoint (modified ${new Date(b.mtimeMs).toISOString()}, was ${new Date(a.mtimeMs).toISOString()})`;
  if (stored.sink !== now.sink) return `the sink is ${now.sink}, the checkpoint is of a run into ${stored.sink}`;
  if (stored.configHash !== now.configHash) {
    const keys = new Set([...Object.keys(stored.config), ...Object.keys(now.config)]);
    const diffs: string[] = [];
    for (const k of [...keys].sort()) {
      const x = canonicalJson(stored.config[k] ?? null), y = canonicalJson(now.config[k] ?? null);
      if (x !== y) diffs.push(`${k} ${x} -> ${y}`);
    }
    return `the options that shape the output changed since the checkpoint (${diffs.join('; ') || 'config hash differs'})`;
  }
  return null;
}

/** The LevelDB of one run's state directory. */
export class CheckpointStore {
  private closed = false;
  private serial = 0;
  /** The last save, settled or not. */
  private saving: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: Level<string, string>, readonly dir: string) {}

  /** The store in `<dir>/checkpoint` (created when absent). */
  static async open(dir: string): Promise<CheckpointStore> {
    const path = join(dir, 'checkpoint');
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new LdapflowError('STATE_OPEN', `cannot create the state directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const db = new Level<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (err) {
      const busy = /lock/i.test(String((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message));
      throw new LdapflowError('STATE_OPEN', busy
        ? `the state directory ${dir} is in use by another ldapflow run`
        : `cannot open the checkpoint store in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    return new CheckpointStore(db, dir);
  }

  /** Whether a state directory holds a checkpoint store. */
  static exists(dir: string): boolean {
    return existsSync(join(dir, 'checkpoint', 'CURRENT'));
  }

  async identity(): Promise<RunIdentity | undefined> {
    const v = await this.db.get('identity');
    return v === undefined ? undefined : (JSON.parse(v) as RunIdentity);
  }

  /** When the run that began this state started (ISO time); undefined for state written before it was recorded. */
  async started(): Promise<string | undefined> {
    return (await this.db.get('started')) ?? undefined;
  }

  async checkpoint(): Promise<CheckpointData | undefined> {
    const v = await this.db.get('checkpoint');
    if (v === undefined) return undefined;
    const cp = JSON.parse(v) as CheckpointData;
    this.serial = Math.max(this.serial, cp.serial);
    return cp;
  }

  /** Start a run from scratch: the identity, no checkpoint. */
  async begin(id: RunIdentity): Promise<void> {
    const b = this.db.batch();
    b.put('identity', JSON.stringify(id));
    // When the original run began: a resumed LDAP load takes an entry created since then by its bind DN as its own.
    b.put('started', new Date().toISOString());
    b.del('checkpoint');
    await this.write(b);
    this.serial = 0;
  }

  /** Record a checkpoint (one synced LevelDB write). Saves are written in the order they are called (the serial's
   * order), one after the other, even when a caller does not wait for one before it starts the next. */
  async save(cp: Omit<CheckpointData, 'at' | 'serial'>): Promise<CheckpointData> {
    const full: CheckpointData = { ...cp, at: new Date().toISOString(), serial: ++this.serial };
    const b = this.db.batch();
    b.put('checkpoint', JSON.stringify(full));
    const mine = this.saving.then(() => this.write(b));
    this.saving = mine.catch(() => {});
    await mine;
    return full;
  }

  private async write(b: ReturnType<Level<string, string>['batch']>): Promise<void> {
    try {
      await b.write({ sync: true });
    } catch (err) {
      throw new LdapflowError('STATE_WRITE', `cannot write the checkpoint in ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}

/** Spill directories a killed run left in a state directory (the ordering stage removes its own on a clean exit). */
export function removeStaleSpills(dir: string): number {
  let n = 0;
  let names: string[];
  try { names = readdirSync(dir); } catch { return 0; }
  for (const name of names) {
    if (!name.startsWith('ldapflow-spill-')) continue;
    const p = join(dir, name);
    try { if (statSync(p).isDirectory()) { rmSync(p, { recursive: true, force: true }); n++; } } catch { /* gone */ }
  }
  return n;
}

/** State directories under `root` (default `.ldapflow`) whose identity names this source path and sink: for a message
 * that says why a resume found no checkpoint of the current run. */
export async function findCheckpointsFor(root: string, sourcePath: string, sink: string): Promise<Array<{ dir: string; identity: RunIdentity }>> {
  const out: Array<{ dir: string; identity: RunIdentity }> = [];
  let names: string[];
  try { names = readdirSync(root); } catch { return out; }
  for (const name of names) {
    const dir = join(root, name);
    if (!CheckpointStore.exists(dir)) continue;
    let st: CheckpointStore | undefined;
    try {
      st = await CheckpointStore.open(dir);
      const id = await st.identity();
      if (id && id.source.path === resolve(sourcePath) && id.sink === sink) out.push({ dir, identity: id });
    } catch { /* in use or damaged: not ours to judge here */ } finally {
      await st?.close();
    }
  }
  return out;
}
