/**
 * Flags and config file -> one validated run: source, stages, sink, reject file, thresholds. Used by the CLI; the
 * library API takes the same parts directly (src/index.ts).
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LdapflowError, UsageError } from './errors.js';
import { readLdif } from './sources/ldif-file.js';
import { writeLdif } from './sinks/ldif-file.js';
import type { CheckpointPlan } from './checkpointing.js';
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
  /** Continue an interrupted run from its checkpoint (src/checkpointing.ts). */
  resume?: boolean;
  /** Records between checkpoints (default 5,000); 0: no checkpoints. */
  checkpointInterval?: number;
}

export interface BuiltRun {
  runOptions: RunOptions;
  close?: () => Promise<void>;
  extraSummary?: () => Record<string, unknown>;
  /** Said after an interrupted run (where the partial output is). */
  partialNote?: string;
  /** Said before the run (checkpoint and resume notes). */
  notes?: string[];
}

export const isLdapUrl = (s: string): boolean => /^ldaps?:\/\//i.test(s);

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** The `--config` file: a preset (it may `extends` a built-in one) plus categorize rules. */
export interface ConfigFile {
  categories?: Array<{ category: string; filter: string } | { category: string; dnSuffix: string }>;
  [presetKey: string]: unknown;
}

function readConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LdapflowError('CONFIG_READ', `cannot read config file: ${(err as Error).message}`, { file: path });
  }
  try {
    const c = JSON.parse(text);
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw new Error('the top level must be an object');
    return c as ConfigFile;
  } catch (err) {
    throw new LdapflowError('CONFIG_INVALID', `invalid JSON config: ${(err as Error).message}`, { file: path });
  }
}

function readSecret(file: string | undefined, envName: string, what: string): string | undefined {
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new LdapflowError('PASSWORD_FILE', `cannot read the ${what} password file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file });
    }
  }
  return process.env[envName];
}

/** Prompt on the terminal without echo. */
async function promptSecret(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  let asked = false;
  out._writeToOutput = (s: string) => { if (!asked) { process.stderr.write(s); asked = true; } };
  try {
    return await new Promise<string>((res) => rl.question(question, res));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

export async function buildSource(spec: string, o: CliRunOptions): Promise<Source> {
  if (isLdapUrl(spec)) {
    const { readLdap } = await import('./sources/ldap-server.js');
    return readLdap({
      url: spec,
      bindDn: o.sourceBindDn,
      password: readSecret(o.sourcePasswordFile, 'LDAPFLOW_SOURCE_PASSWORD', 'source'),
      tls: { caFile: o.caFile, startTls: o.starttls },
      pageSize: o.pageSize,
    });
  }
  return readLdif({ input: spec, mode: o.mode, batchSize: o.batchSize });
}

export async function buildSink(spec: string, o: CliRunOptions, resume?: CheckpointPlan['sinkResume']): Promise<Sink> {
  if (isLdapUrl(spec)) {
    if (o.splitBy) throw new UsageError('--split-by works with an LDIF sink only');
    const { writeLdap } = await import('./sinks/ldap-server.js');
    let password = readSecret(o.passwordFile, 'LDAPFLOW_PASSWORD', 'bind');
    if (o.bindDn && password === undefined) {
      if (!process.stdin.isTTY) throw new UsageError(`no password for ${o.bindDn}: give -y FILE or set LDAPFLOW_PASSWORD`);
      password = await promptSecret(`Password for ${o.bindDn}: `);
    }
    return writeLdap({
      url: spec,
      bindDn: o.bindDn,
      password,
      tls: { caFile: o.caFile, startTls: o.starttls },
      onExists: o.onExists,
      connections: o.connections,
      inFlight: o.inFlight,
      ...(resume?.ldap ? { resumeMode: true, ...(resume.since ? { resumeSince: resume.since } : {}) } : {}),
    });
  }
  if (o.splitBy) {
    if (o.splitBy !== 'category') throw new UsageError(`--split-by takes "category", got "${o.splitBy}"`);
    const { writeSplitLdif } = await import('./sinks/split-ldif.js');
    return writeSplitLdif({ dir: spec, wrap: o.wrap });
  }
  return writeLdif({ output: spec, wrap: o.wrap, ...(resume?.ldifOffset !== undefined ? { resumeAt: resume.ldifOffset } : {}) });
}

/** The LDAP sink's naming contexts (root DSE), read once before the run: they and what is above them count as present. */
export interface TargetLookup {
  namingContexts: string[];
}

export async function ldapTargetLookup(sinkSpec: string, o: CliRunOptions): Promise<TargetLookup> {
  const { connectLdap, parseLdapUrl } = await import('./sources/ldap-server.js');
  const url = parseLdapUrl(sinkSpec, 'sink URL');
  const password = readSecret(o.passwordFile, 'LDAPFLOW_PASSWORD', 'bind');
  // Connect now: a wrong password or an unreachable server is reported before any work.
  const client = await connectLdap(url, { dn: o.bindDn, password }, { tls: { caFile: o.caFile, startTls: o.starttls } });
  try {
    const { searchEntries } = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['namingContexts'] });
    const nc = searchEntries[0]?.namingContexts;
    return { namingContexts: (Array.isArray(nc) ? nc : nc === undefined ? [] : [nc]).map(String).filter((d) => d !== '') };
  } catch {
    return { namingContexts: [] }; // a server that hides its root DSE: the stage then finds the top entries itself
  } finally {
    try { await client.unbind(); } catch { /* gone */ }
  }
}

export async function buildStages(o: CliRunOptions, sinkKind: 'ldif' | 'ldap', warn: (m: string) => void, target?: TargetLookup): Promise<Stage[]> {
  if (o.passthrough) return [];
  const stages: Stage[] = [];
  const { loadPreset, validatePreset, mergePresets } = await import('./presets/index.js');
  let preset = o.preset ? await loadPreset(o.preset) : undefined;
  let rules: ConfigFile['categories'];
  if (o.config) {
    const { categories, ...presetPart } = readConfig(o.config);
    rules = categories;
    if (Object.keys(presetPart).length) {
      let child = validatePreset(presetPart, o.config);
      if (child.extends) {
        const ext = child.extends.includes('/') ? resolve(dirname(o.config), child.extends) : child.extends;
        preset = mergePresets(preset ?? (await loadPreset(ext)), { ...child, extends: undefined });
        child = preset;
      }
      preset = preset ? mergePresets(preset, child) : child;
    }
  }
  const { loadSchemas } = await import('./schema/load.js');
  const schema = await loadSchemas(o.schema ?? [], { onWarning: warn });
  // Categorize first: it must see the source's classes (orclContainer, orclNetService ...) that the fix removes.
  if (o.categorize) {
    const { categorize } = await import('./transforms/categorize.js');
    stages.push(categorize({ rules, schema }));
  }
  if (o.fixSchema) {
    const { fixSchema } = await import('./transforms/fix-schema.js');
    stages.push(fixSchema({
      schema,
      ...(preset ? { preset } : {}),
      strategy: o.strategy,
      ...(o.explain?.length ? { explain: o.explain } : {}),
      ...(o.extensibleObject ? { extensibleObject: true } : {}),
    }));
  }
  if (o.order) {
    const { orderDependencies } = await import('./transforms/order-dependencies.js');
    stages.push(orderDependencies({
      createMissingParents: o.createMissingParents,
      ...(preset?.referenceAttributes ? { referenceAttributes: preset.referenceAttributes } : {}),
      danglingReferences: preset?.danglingReferences ?? 'keep',
      ...(o.bufferEntries ? { bufferEntries: o.bufferEntries } : {}),
      batchSize: o.batchSize,
      ...(o.state ? { stateDir: o.state } : {}),
      // Only the target's naming contexts, never a per-parent lookup: a resumed run replays the input and skips what was
      // written, so the order must depend on the input alone, not on what the target holds at the time.
      ...(target?.namingContexts.length ? { baseDn: target.namingContexts } : {}),
      sinkKind,
    }));
  }
  return stages;
}

export async function buildRun(sourceSpec: string, sinkSpec: string, o: CliRunOptions): Promise<BuiltRun> {
  if (o.passthrough && (o.schema?.length || o.preset)) throw new UsageError('--passthrough cannot be combined with --schema or --preset');
  let source = await buildSource(sourceSpec, o);
  let rejectFile = o.reject;
  if (!rejectFile) {
    rejectFile = !isLdapUrl(sinkSpec) && sinkSpec !== '-' ? `${sinkSpec}.rejects.ldif` : `ldapflow-rejects-${timestamp()}.ldif`;
  }
  const { planCheckpoints } = await import('./checkpointing.js');
  const cp = await planCheckpoints(sourceSpec, sinkSpec, o, rejectFile);
  if (cp) rejectFile = cp.rejectFile;
  const sink = await buildSink(sinkSpec, o, cp?.sinkResume).catch(async (err) => { await cp?.close(); throw err; });
  const target = sink.kind === 'ldap' && o.order && !o.passthrough ? await ldapTargetLookup(sinkSpec, o) : undefined;
  let stages = await buildStages(o, sink.kind, (m) => process.stderr.write(`ldapflow: warning: ${m}\n`), target);
  let runMapStages: RunOptions['runMapStages'];
  // The worker pool's default (one worker per core beyond the first) is measured for LDIF output. An LDAP sink is
  // bound by the server (slapd's CPU per entry is ~2x ours), so it stays inline unless asked.
  const workers = o.workers ?? (sink.kind === 'ldap' ? 0 : undefined);
  if (workers !== 0 && (stages.some((s) => s.kind === 'map') || sink.textWrap !== undefined)) {
    // Map stages on the worker pool (--workers N; default from the benchmark); an LDIF source is parsed there too.
    const { planWorkers } = await import('./transforms/in-workers.js');
    ({ source, stages, runMapStages } = planWorkers({
      source, stages, workers, mode: o.mode, batchSize: o.batchSize,
      ...(isLdapUrl(sourceSpec) ? {} : { ldifInput: sourceSpec }),
      ...(sink.textWrap !== undefined ? { format: { wrap: sink.textWrap } } : {}),
    }));
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
      ...(runMapStages ? { runMapStages } : {}),
      ...(cp ? { checkpoints: cp.checkpoints } : {}),
    },
    ...(cp ? { close: () => cp.close() } : {}),
    ...(cp ? { notes: cp.notes } : {}),
    partialNote: sink.kind === 'ldif' && sinkSpec !== '-' ? `partial output kept in ${basename(sinkSpec)}.partial` : undefined,
  };
}
