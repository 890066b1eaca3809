/**
 * Flags and config file -> one validated run: source, stages, sink, reject file, thresholds. Used by the CLI; the
 * library API takes the same parts directly (src/index.ts).
 */
import { basename } from 'node:path';
import { UsageError } from './errors.js';
import { readLdif } from './sources/ldif-file.js';
import { writeLdif } from './sinks/ldif-file.js';
import type { RunOptions } from './pipeline.js';
import type { Sink, Source, Stage } from './stage.js';

export interface CliRunOptions {
  reject?: string;
  summary?: string;
  maxErrors?: number;
  maxErrorRate?: number;
  batchSize: number;
  mode: 'auto' | 'entries' | 'changes';
  passthrough?: boolean;
  fixSchema: boolean;
  categorize: boolean;
  order: boolean;
  schema?: string[];
  preset?: string;
  config?: string;
  strategy: 'preserve' | 'strict';
  extensibleObject?: boolean;
  explain?: string[];
  workers?: number;
  wrap: number;
  splitBy?: string;
  bufferEntries?: number;
  createMissingParents?: boolean;
  state?: string;
  quiet?: boolean;
  progress?: boolean;
  onExists: 'skip' | 'replace' | 'fail';
  bindDn?: string;
  passwordFile?: string;
  sourceBindDn?: string;
  sourcePasswordFile?: string;
  caFile?: string;
  starttls?: boolean;
  connections?: number;
  inFlight?: number;
  pageSize?: number;
}

export interface BuiltRun {
  runOptions: RunOptions;
  close?: () => Promise<void>;
  extraSummary?: () => Record<string, unknown>;
  /** Said after an interrupted run (where the partial output is). */
  partialNote?: string;
}

export const isLdapUrl = (s: string): boolean => /^ldaps?:\/\//i.test(s);

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

export async function buildSource(spec: string, o: CliRunOptions): Promise<Source> {
  if (isLdapUrl(spec)) {
    throw new UsageError(`LDAP sources are not available in this build (${spec})`);
  }
  return readLdif({ input: spec, mode: o.mode, batchSize: o.batchSize });
}

export async function buildSink(spec: string, o: CliRunOptions): Promise<Sink> {
  if (isLdapUrl(spec)) {
    throw new UsageError(`LDAP sinks are not available in this build (${spec})`);
  }
  return writeLdif({ output: spec, wrap: o.wrap });
}

export async function buildStages(o: CliRunOptions, _sinkKind: 'ldif' | 'ldap'): Promise<Stage[]> {
  if (o.passthrough) return [];
  return [];
}

export async function buildRun(sourceSpec: string, sinkSpec: string, o: CliRunOptions): Promise<BuiltRun> {
  if (o.passthrough && (o.schema?.length || o.preset)) throw new UsageError('--passthrough cannot be combined with --schema or --preset');
  const source = await buildSource(sourceSpec, o);
  const sink = await buildSink(sinkSpec, o);
  const stages = await buildStages(o, sink.kind);
  let rejectFile = o.reject;
  if (!rejectFile) {
    rejectFile = sink.kind === 'ldif' && sinkSpec !== '-' ? `${sinkSpec}.rejects.ldif` : `ldapflow-rejects-${timestamp()}.ldif`;
  }
  return {
    runOptions: {
      source,
      sink,
      stages,
      rejectFile,
      alwaysWriteRejectFile: o.reject !== undefined,
      maxErrors: o.maxErrors,
      maxErrorRate: o.maxErrorRate,
      stateDir: o.state,
    },
    partialNote: sink.kind === 'ldif' && sinkSpec !== '-' ? `partial output kept in ${basename(sinkSpec)}.partial` : undefined,
  };
}
