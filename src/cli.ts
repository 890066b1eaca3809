#!/usr/bin/env node
/**
 * The command line: argv -> config -> pipeline. The only place that prints to the terminal or sets exit codes.
 * Exit codes: 0 done, 1 fatal error, 2 usage error, 3 done with rejects, 130 interrupted (Ctrl-C).
 */
import { Command, CommanderError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { describeError, LdapflowError, UsageError } from './errors.js';
import { run, RunError, type Progress, type Summary } from './pipeline.js';
import { buildRun, type CliRunOptions } from './config.js';
import { DEFAULT_CHECKPOINT_INTERVAL } from './checkpointing.js';

const EXIT_OK = 0;
const EXIT_FATAL = 1;
const EXIT_USAGE = 2;
const EXIT_REJECTS = 3;
const EXIT_INTERRUPTED = 130;

function int(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a whole number, got "${v}"`);
    return Number(v);
  };
}
function rate(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--max-error-rate must be a number from 0 to 1, got "${v}"`);
  return n;
}
const collect = (v: string, prev: string[] = []) => [...prev, v];

function humanCount(n: number): string {
  return n.toLocaleString('en-US');
}

function progressLine(p: Progress): string {
  let s = `ldapflow: ${humanCount(p.read)} entries, ${humanCount(Math.round(p.entriesPerSecond))}/s, ${p.elapsedSeconds.toFixed(1)}s`;
  if (p.totalBytes && p.bytesRead > 0) {
    const frac = Math.min(1, p.bytesRead / p.totalBytes);
    const eta = frac > 0 ? (p.elapsedSeconds / frac) * (1 - frac) : 0;
    s += `, ${(frac * 100).toFixed(1)}%, ETA ${eta.toFixed(0)}s`;
  }
  if (p.rejected) s += `, ${humanCount(p.rejected)} rejected`;
  return s;
}

function summaryLine(s: Summary): string {
  let line = `ldapflow: ${s.aborted ? 'interrupted: ' : ''}read ${humanCount(s.read)}, written ${humanCount(s.written)}, rejected ${humanCount(s.rejected)} in ${s.durationSeconds.toFixed(1)}s (${humanCount(s.entriesPerSecond)} entries/s)`;
  const codes = Object.entries(s.rejects).sort((a, b) => b[1] - a[1]);
  if (codes.length) line += `; rejects: ${codes.map(([c, n]) => `${c} ${n}`).join(', ')}`;
  const fixes = Object.entries(s.fixes).sort((a, b) => b[1] - a[1]);
  if (fixes.length) line += `; fixes: ${fixes.slice(0, 6).map(([c, n]) => `${c} ${n}`).join(', ')}${fixes.length > 6 ? `, +${fixes.length - 6} more (see --summary)` : ''}`;
  if (s.rejectFile) line += `; rejected records in ${s.rejectFile}`;
  return line;
}

async function runCommand(source: string, sink: string, o: CliRunOptions): Promise<number> {
  const built = await buildRun(source, sink, o);
  if (!o.quiet) for (const n of built.notes ?? []) process.stderr.write(`ldapflow: ${n}\n`);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    process.stderr.write('\nldapflow: interrupted, flushing what was written (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const tty = process.stderr.isTTY && !o.quiet && o.progress !== false;
  let progressShown = false;
  const explain = o.explain?.length ? true : false;
  let summary: Summary;
  try {
    summary = await run({
      ...built.runOptions,
      signal: controller.signal,
      onProgress: tty ? (p) => { progressShown = true; process.stderr.write('\r\x1b[K' + progressLine(p)); } : undefined,
      onNote: explain ? (n) => process.stderr.write(`${progressShown ? '\r\x1b[K' : ''}explain ${n.dn}: [${n.stage}] ${n.code}: ${n.message}\n`) : undefined,
    });
  } catch (err) {
    if (progressShown) process.stderr.write('\r\x1b[K');
    if (err instanceof RunError) {
      if (o.summary) writeSummary(o.summary, { ...err.summary, error: err.describe() });
      // A fatal error is one line (printed by main); the counts so far are in --summary.
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await built.close?.();
  }
  if (progressShown) process.stderr.write('\r\x1b[K');
  if (o.summary) writeSummary(o.summary, { ...summary, ...built.extraSummary?.() });
  if (!o.quiet) process.stderr.write(summaryLine(summary) + '\n');
  if (summary.aborted) {
    if (built.partialNote) process.stderr.write(`ldapflow: ${built.partialNote}\n`);
    return EXIT_INTERRUPTED;
  }
  return summary.rejected > 0 ? EXIT_REJECTS : EXIT_OK;
}

function writeSummary(path: string, data: object): void {
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('ldapflow')
    .description('Move LDAP directories: LDIF and LDAP servers in, schema-fixed and ordered, LDIF and LDAP servers out.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const runCmd = program
    .command('run')
    .description('Read a source, fix and order its entries, write them to a sink.\n' +
      'SOURCE and SINK are LDIF paths (.ldif or .ldif.gz), "-" for stdin/stdout, or ldap[s]:// URLs.')
    .argument('<source>', 'LDIF path, "-" (stdin), or ldap[s]://host:port/BASE??sub?(filter)')
    .argument('<sink>', 'LDIF path, "-" (stdout), or ldap[s]://host:port')
    .option('--reject <file>', 'write rejected records here (default: SINK.rejects.ldif, or ldapflow-rejects.ldif beside you for stdout/LDAP sinks, created on the first reject)')
    .option('--summary <file>', 'write the run summary as JSON')
    .option('--max-errors <n>', 'stop with exit 1 once more than N records are rejected', int('--max-errors'))
    .option('--max-error-rate <r>', 'stop with exit 1 once the rejected fraction exceeds R (0..1), checked from 1,000 records on', rate)
    .option('--batch-size <n>', 'records per batch (250: measured best on 2 cores; larger batches outlive the young generation)', int('--batch-size'), 250)
    .addOption(new Option('--mode <mode>', 'how to read LDIF records').choices(['auto', 'entries', 'changes']).default('auto'))
    .option('--passthrough', 'no transformation: read and write records as they are (also --no-fix-schema --no-categorize --no-order)')
    .option('--no-fix-schema', 'do not run the schema fix stage')
    .option('--no-categorize', 'do not run the categorize stage')
    .option('--no-order', 'do not run the dependency ordering stage')
    .option('--schema <source>', 'target schema: schema LDIF, .schema file, or ldap:// URL (repeatable; merged)', collect)
    .option('--preset <name>', 'source-side knowledge preset (e.g. oid-to-oud), or a preset file path')
    .option('--config <file>', 'JSON config file (preset extension, categorize rules, attribute maps)')
    .addOption(new Option('--strategy <s>', 'schema fix strategy').choices(['preserve', 'strict']).default('preserve'))
    .option('--extensible-object', 'keep attributes the target does not allow by adding extensibleObject (preserve strategy)')
    .option('--explain <dn>', 'print what each stage did to this entry and why (repeatable)', collect)
    .option('--workers <n>', 'worker threads that parse LDIF and run the map stages (default for LDIF output: cores - 1, at most 4, measured on 2 cores: 1 worker 1.25-1.47x inline; when the workers also write the LDIF, as with --passthrough or --no-order: one per core, at most 4; see bench/RESULTS.md; for an LDAP sink 0: inline)', int('--workers'))
    .option('--wrap <n>', 'fold LDIF output lines at this column (0: never)', int('--wrap'), 76)
    .option('--split-by <what>', 'LDIF sink only: write one file per category into the SINK directory ("category")')
    .option('--buffer-entries <n>', 'entries the ordering stage may hold in memory before spilling to disk', int('--buffer-entries'))
    .option('--create-missing-parents', 'generate container entries for parents missing from the input')
    .option('--state <dir>', 'state directory for checkpoints and spill (default .ldapflow/<run-id>)')
    .option('--resume', 'continue the interrupted run of this source, sink and options from its last checkpoint')
    .option('--checkpoint-interval <n>', 'records written between checkpoints (0: none)', int('--checkpoint-interval'), DEFAULT_CHECKPOINT_INTERVAL)
    .option('-q, --quiet', 'no progress line and no summary line')
    .option('--no-progress', 'no progress line')
    .addOption(new Option('--on-exists <what>', 'LDAP sink: an entry that already exists').choices(['skip', 'replace', 'fail']).default('fail'))
    .option('-D, --bind-dn <dn>', 'LDAP sink: bind DN')
    .option('-y, --password-file <file>', 'LDAP sink: read the bind password from this file (or env LDAPFLOW_PASSWORD, or a prompt)')
    .option('--source-bind-dn <dn>', 'LDAP source: bind DN')
    .option('--source-password-file <file>', 'LDAP source: bind password file (or env LDAPFLOW_SOURCE_PASSWORD)')
    .option('--ca-file <file>', 'CA certificate(s) for ldaps:// and StartTLS')
    .option('--starttls', 'use StartTLS on ldap:// URLs')
    .option('--connections <n>', 'LDAP sink: connections', int('--connections'))
    .option('--in-flight <n>', 'LDAP sink: operations outstanding per connection', int('--in-flight'))
    .option('--page-size <n>', 'LDAP source: paged results page size', int('--page-size'))
    .action(async (source: string, sink: string, o: CliRunOptions) => {
      setExit(await runCommand(source, sink, o));
    });
  runCmd.exitOverride();

  program
    .command('resume')
    .description('continue an interrupted run from the checkpoint in its state directory, with the options it was started with')
    .argument('<dir>', 'the state directory (.ldapflow/<run-id>, or the --state DIR of the run)')
    .option('--summary <file>', 'write the run summary as JSON')
    .option('-q, --quiet', 'no progress line and no summary line')
    .option('--no-progress', 'no progress line')
    .action(async (dir: string, r: { summary?: string; quiet?: boolean; progress?: boolean }) => {
      const { storedCommand } = await import('./checkpointing.js');
      const c = await storedCommand(dir);
      const o = { ...(c.options as unknown as CliRunOptions), state: dir, resume: true, summary: r.summary, quiet: r.quiet, progress: r.progress };
      setExit(await runCommand(c.source, c.sink, o));
    });

  program
    .command('analyze')
    .description('read the source once, write nothing, and report categories, schema conflicts, order, references, cycles, duplicates')
    .argument('<source>', 'LDIF path, "-" (stdin), or ldap[s]://host:port/BASE??sub?(filter)')
    .option('--schema <source>', 'target schema (repeatable; merged)', collect)
    .option('--preset <name>', 'preset name or file (e.g. oid-to-oud)')
    .option('--config <file>', 'JSON config file with categorize rules ("categories")')
    .option('--base-dn <dn>', 'DN that exists in the target (repeatable)', collect)
    .option('--json', 'one JSON document instead of tables')
    .option('--source-bind-dn <dn>', 'LDAP source: bind DN')
    .option('--source-password-file <file>', 'LDAP source: bind password file (or env LDAPFLOW_SOURCE_PASSWORD)')
    .option('--ca-file <file>', 'CA certificate(s) for ldaps:// and StartTLS')
    .option('--starttls', 'use StartTLS on ldap:// URLs')
    .action(async (source: string, o: CliRunOptions & { json?: boolean; baseDn?: string[] }) => {
      const { analyze, formatAnalyzeReport } = await import('./analyze.js');
      const { buildSource } = await import('./config.js');
      const { loadSchemas } = await import('./schema/load.js');
      const { readFileSync } = await import('node:fs');
      let rules;
      if (o.config) {
        try { rules = JSON.parse(readFileSync(o.config, 'utf8')).categories; } catch (err) {
          throw new LdapflowError('CONFIG_INVALID', `cannot read config: ${(err as Error).message}`, { file: o.config });
        }
      }
      const schema = await loadSchemas(o.schema ?? [], { onWarning: (m) => process.stderr.write(`ldapflow: warning: ${m}\n`) });
      const report = await analyze({ source: await buildSource(source, o), schema, preset: o.preset, rules, baseDn: o.baseDn });
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatAnalyzeReport(report));
      setExit(EXIT_OK);
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((c) => { code = c; });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE; // commander already printed the message
    }
    if (err instanceof UsageError) {
      process.stderr.write(`ldapflow: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`ldapflow: ${describeError(err)}\n`);
    if (process.env.LDAPFLOW_DEBUG && err instanceof Error) process.stderr.write(String(err.stack) + '\n');
    return EXIT_FATAL;
  }
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${(await import('node:fs')).realpathSync(process.argv[1])}`).href;
if (isMain) {
  process.on('uncaughtException', (err) => {
    process.stderr.write(`ldapflow: internal error: ${describeError(err)}\n`);
    process.exit(EXIT_FATAL);
  });
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_FATAL);
  });
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}

