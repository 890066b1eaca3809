/**
 * The CLI side of checkpoints and resume: which runs can be checkpointed, the run identity from the flags, the state
 * directory (`--state DIR`, default `.ldapflow/<run-id>`), and what a resume hands to the sink and the pipeline.
 * The scheme itself is described in src/state/checkpoint.ts.
 *
 * Checkpointed: an LDIF source file (plain or gzip) into an LDIF file or an LDAP server. Not checkpointed (and
 * `--resume` refuses): standard input or output, `--split-by`, an LDAP source (its content cannot be fingerprinted),
 * `--checkpoint-interval 0`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LdapflowError, UsageError } from './errors.js';
import type { CliRunOptions } from './config.js';
import type { ResumePoint, RunCheckpoints } from './pipeline.js';
import {
  CheckpointStore, fingerprintSource, findCheckpointsFor, identityMismatch, makeIdentity, removeStaleSpills,
  type CheckpointData, type RunIdentity,
} from './state/checkpoint.js';

export const DEFAULT_CHECKPOINT_INTERVAL = 5000;
export const DEFAULT_STATE_ROOT = '.ldapflow';

const isLdapUrl = (s: string): boolean => /^ldaps?:\/\//i.test(s);

/** A file named in the options, by path and content (so an edited schema or preset file counts as a change). */
function fileId(p: string): unknown {
  if (isLdapUrl(p) || !existsSync(p)) return p;
  try {
    return { path: resolve(p), sha256: createHash('sha256').update(readFileSync(p)).digest('hex') };
  } catch {
    return resolve(p);
  }
}

/** The options that change what is written (and so the run identity). Thresholds, workers, connections, progress,
 * explain and credentials do not. */
export function outputConfig(o: CliRunOptions): Record<string, unknown> {
  return {
    mode: o.mode,
    batchSize: o.batchSize,
    passthrough: !!o.passthrough,
    fixSchema: o.fixSchema !== false,
    categorize: o.categorize !== false,
    order: o.order !== false,
    schema: (o.schema ?? []).map(fileId),
    preset: o.preset === undefined ? null : fileId(o.preset),
    config: o.config === undefined ? null : fileId(o.config),
    strategy: o.strategy,
    extensibleObject: !!o.extensibleObject,
    wrap: o.wrap,
    splitBy: o.splitBy ?? null,
    bufferEntries: o.bufferEntries ?? null,
    createMissingParents: !!o.createMissingParents,
    onExists: o.onExists,
    reject: o.reject === undefined ? null : resolve(o.reject),
  };
}

export interface CheckpointPlan {
  dir: string;
  identity: RunIdentity;
  checkpoints: RunCheckpoints;
  /** Set on resume: the LDIF output offset to cut back to, or LDAP resume mode. */
  sinkResume?: { ldifOffset?: number; ldap?: boolean; since?: string };
  /** The reject file to use (a resume uses the interrupted run's). */
  rejectFile: string;
  /** Said to the user before the run (a checkpoint that is being replaced, what a resume starts from). */
  notes: string[];
  close(): Promise<void>;
}

/** Why this run cannot be checkpointed, or null. */
function notCheckpointable(sourceSpec: string, sinkSpec: string, o: CliRunOptions): string | null {
  if (sourceSpec === '-') return 'the source is standard input';
  if (isLdapUrl(sourceSpec)) return 'the source is an LDAP server';
  if (sinkSpec === '-') return 'the sink is standard output';
  if (o.splitBy) return '--split-by writes several files';
  if (o.checkpointInterval === 0) return '--checkpoint-interval is 0';
  return null;
}

const ZERO: ResumePoint & Pick<CheckpointData, 'sinkBytes' | 'rejectFile'> = {
  sinkRecords: 0, streamRejects: 0, sinkBytes: 0, rejectBytes: null, rejectFile: null,
  written: 0, rejected: 0, rejects: {}, sinkCounts: {},
};

/**
 * Open (or refuse) the checkpoint store for a run. `rejectFile` is the reject file the run would use when it starts
 * afresh. Returns undefined when the run is not checkpointed.
 */
export async function planCheckpoints(sourceSpec: string, sinkSpec: string, o: CliRunOptions, rejectFile: string): Promise<CheckpointPlan | undefined> {
  const why = notCheckpointable(sourceSpec, sinkSpec, o);
  if (why) {
    if (o.resume) throw new UsageError(`--resume needs checkpoints, and this run has none: ${why}`);
    return undefined;
  }
  const interval = o.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
  const sinkId = isLdapUrl(sinkSpec) ? sinkSpec : resolve(sinkSpec);
  const { resume: _r, state: _s, checkpointInterval: _c, quiet: _q, progress: _p, summary: _m, ...kept } = o;
  const identity = makeIdentity(fingerprintSource(sourceSpec), sinkId, outputConfig(o), {
    source: resolve(sourceSpec), sink: sinkId, options: kept as Record<string, unknown>, rejectFile: resolve(rejectFile),
  });
  const dir = o.state ?? join(DEFAULT_STATE_ROOT, identity.runId);
  const notes: string[] = [];

  if (o.resume && !CheckpointStore.exists(dir)) {
    if (!o.state) {
      const others = await findCheckpointsFor(DEFAULT_STATE_ROOT, identity.source.path, sinkId);
      const live = others.map((x) => identityMismatch(x.identity, identity)).filter((m): m is string => m !== null);
      if (live.length) throw new LdapflowError('STATE_RESUME_REFUSED', `cannot resume: ${live[0]}; run without --resume to start over`);
    }
    throw new LdapflowError('STATE_NO_CHECKPOINT', `cannot resume: no checkpoint of this run in ${dir}`);
  }
  const store = await CheckpointStore.open(dir);
  try {
    const stored = await store.identity();
    let point: typeof ZERO | undefined;
    if (o.resume) {
      if (!stored) throw new LdapflowError('STATE_NO_CHECKPOINT', `cannot resume: no checkpoint of this run in ${dir}`);
      const mismatch = identityMismatch(stored, identity);
      if (mismatch) throw new LdapflowError('STATE_RESUME_REFUSED', `cannot resume: ${mismatch}; run without --resume to start over`);
      const cp = await store.checkpoint();
      if (cp?.status === 'done') throw new LdapflowError('STATE_ALREADY_DONE', `nothing to resume: the run checkpointed in ${dir} finished at ${cp.at}`);
      point = cp ?? ZERO;
      removeStaleSpills(dir);
      notes.push(cp
        ? `resuming from checkpoint ${cp.serial} (${cp.at}): ${cp.sinkRecords.toLocaleString('en-US')} records and ${cp.streamRejects.toLocaleString('en-US')} rejects already done; the input is read again from its start and they are skipped`
        : 'resuming an interrupted run that took no checkpoint: starting from the beginning');
    } else {
      const cp = stored ? await store.checkpoint() : undefined;
      if (cp && cp.status === 'running') notes.push(`an interrupted run of this source and options had a checkpoint in ${dir} (${cp.sinkRecords.toLocaleString('en-US')} records); starting over (give --resume to continue it)`);
      await store.begin(identity);
    }
    const rejectUsed = point ? (point.rejectFile ?? stored!.command.rejectFile ?? rejectFile) : rejectFile;
    return {
      dir,
      identity,
      notes,
      rejectFile: rejectUsed,
      ...(point ? { sinkResume: isLdapUrl(sinkSpec) ? { ldap: true, since: await store.started() } : { ldifOffset: point.sinkBytes ?? 0 } } : {}),
      checkpoints: {
        interval,
        ...(point ? { resume: point } : {}),
        save: async (cp) => { await store.save(cp); },
      },
      close: () => store.close(),
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** `ldapflow resume DIR`: the command stored with the checkpoint. */
export async function storedCommand(dir: string): Promise<RunIdentity['command']> {
  if (!CheckpointStore.exists(dir)) throw new LdapflowError('STATE_NO_CHECKPOINT', `cannot resume: no checkpoint in ${dir}`);
  const store = await CheckpointStore.open(dir);
  try {
    const id = await store.identity();
    if (!id) throw new LdapflowError('STATE_NO_CHECKPOINT', `cannot resume: no checkpoint in ${dir}`);
    return id.command;
  } finally {
    await store.close();
  }
}
