/**
 * bench/run.ts: the benchmark suite. `npm run bench [-- --sizes 100000,1000000] [--quick] [--dir D] [--seed S]
 *   [--only floor,python,parse,write,pipeline] [--workers 0,1,2,3] [--repeat N] [--timeout SECONDS per measurement,
 *   default 1800] [--results FILE | --no-results]`
 *
 * On generated OID-style exports (bench/gen.ts, 5% of entries out of order; generated once into the bench work dir,
 * default /tmp/ldapflow-bench, and reused while size, seed and file length match its truth file), one run measures:
 *   floor        the raw read-and-split floor: stream the file in 1 MiB chunks, count records by their blank-line
 *                separators; no parsing (Node)
 *   python-ldap  Debian python3-ldap `ldif.LDIFParser` parse-only (/usr/bin/python3; skipped with a message when missing)
 *   parse        ldapflow parse-only through the library: readLdif() batches, records and rejects counted
 *   parse+write  ldapflow parse then write through the library: run({ source: readLdif, stages: [], sink: writeLdif })
 *                (inline), and through the CLI: `run IN OUT --passthrough` with the default workers, which parse and write
 *   pipeline wN  `node dist/src/cli.js run IN OUT --preset oid-to-oud --workers N` (the full LDIF-to-LDIF migration; the
 *                row of the default worker count says so)
 * Each measurement is its own child process under `/usr/bin/time -v` (peak RSS = its "Maximum resident set size"; when
 * /usr/bin/time is missing, the child's own process.resourceUsage().maxRSS for Node children, else "n/a"). Time is the
 * child's wall time, start-up included (Node ~0.05 s, Python ~0.05 s). Rates are per record of the input file.
 * Every child reports how many records it saw; a count that differs from the generator's truth is flagged.
 * With `--repeat N` every row of a size is measured N times, in N rounds of all its rows (python-ldap's included), and
 * the fastest run is kept (bestOf): on a shared machine other load only ever adds time, and a single run of each row
 * put the rows' ratios at the mercy of when each one ran. The notes give every run's time; peak RSS is the highest.
 * Writes bench/RESULTS.md (unless --quick or --no-results): table, command, machine, date.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultWorkers } from '../src/transforms/in-workers.js';

const defaultPassthroughWorkers = () => defaultWorkers(true);
/** The CLI's default for the pipeline: the workers write text entries for the ordering stage (planWorkers). */
const defaultPipelineWorkers = () => defaultWorkers(true, true);

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const distRoot = resolve(here, '..'); // dist
const repoRoot = resolve(distRoot, '..');
const CLI = join(distRoot, 'src', 'cli.js');
const PYTHON = '/usr/bin/python3';
const TIME = '/usr/bin/time';

const PY_PARSE = `
import sys
try:
    import ldif
except ImportError:
    print('{"missing": true}'); sys.exit(0)
class P(ldif.LDIFParser):
    def __init__(s, f):
        super().__init__(f)
        s.n = 0
    def handle(s, dn, entry):
        s.n += 1
with open(sys.argv[1], 'rb') as f:
    p = P(f)
    p.parse()
print('{"records": %d}' % p.n)
`;

// ---------------------------------------------------------------------------------------------------------------------
// Children: `node dist/bench/run.js --child <what> <in> [out]` prints one JSON line.

interface ChildResult {
  records?: number;
  rejected?: number;
  written?: number;
  maxRssKb?: number;
  missing?: boolean;
  error?: string;
}

async function childFloor(input: string): Promise<ChildResult> {
  // Count record separators: a blank line after a non-blank one ("\n\n" with CRLF-free input, as generated).
  let records = 0;
  let prevNl = false; // last byte of the previous chunk was '\n'
  let sawContent = false;
  for await (const chunk of createReadStream(input, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let from = 0;
    if (prevNl && chunk[0] === 10) { records++; from = 1; }
    for (let i = chunk.indexOf('\n\n', from); i >= 0; i = chunk.indexOf('\n\n', i + 2)) records++;
    prevNl = chunk[chunk.length - 1] === 10;
    sawContent = true;
  }
  // The generated file: "version: 1" then a blank line (one separator), header comments + blank (one more),
  // then N records each ended by a blank line. So records = separators - 2.
  return { records: sawContent ? records - 2 : 0, maxRssKb: process.resourceUsage().maxRSS };
}

async function importDist(rel: string): Promise<Record<string, unknown> | null> {
  const p = join(distRoot, rel);
  if (!existsSync(p)) return null;
  return (await import(pathToFileURL(p).href)) as Record<string, unknown>;
}

async function childParse(input: string): Promise<ChildResult> {
  const mod = await importDist('src/sources/ldif-file.js');
  if (!mod || typeof mod.readLdif !== 'function') return { missing: true };
  const source = (mod.readLdif as (o: { input: string }) => { batches(s: AbortSignal): AsyncIterable<{ records: unknown[]; rejects: unknown[] }> })({ input });
  let records = 0;
  let rejected = 0;
  for await (const b of source.batches(new AbortController().signal)) { records += b.records.length; rejected += b.rejects.length; }
  return { records: records + rejected, rejected, written: 0, maxRssKb: process.resourceUsage().maxRSS };
}

async function childWrite(input: string, output: string): Promise<ChildResult> {
  const src = await importDist('src/sources/ldif-file.js');
  const sink = await importDist('src/sinks/ldif-file.js');
  const pipe = await importDist('src/pipeline.js');
  if (!src?.readLdif || !sink?.writeLdif || !pipe?.run) return { missing: true };
  type Fn = (o: unknown) => unknown;
  const summary = await (pipe.run as (o: unknown) => Promise<{ read: number; written: number; rejected: number }>)({
    source: (src.readLdif as Fn)({ input }),
    stages: [],
    sink: (sink.writeLdif as Fn)({ output }),
    rejectFile: output + '.rejects.ldif',
  });
  return { records: summary.read, rejected: summary.rejected, written: summary.written, maxRssKb: process.resourceUsage().maxRSS };
}

async function child(argv: string[]): Promise<void> {
  const [what, input, output] = argv;
  let r: ChildResult;
  try {
    if (what === 'floor') r = await childFloor(input);
    else if (what === 'parse') r = await childParse(input);
    else if (what === 'write') r = await childWrite(input, output);
    else r = { error: `unknown child ${what}` };
  } catch (e) {
    r = { error: (e as Error).message.split('\n')[0] };
  }
  process.stdout.write(JSON.stringify(r) + '\n');
}

// ---------------------------------------------------------------------------------------------------------------------
// Parent

interface Row {
  size: number;
  name: string;
  seconds?: number;
  entriesPerSec?: number;
  mbPerSec?: number;
  rssMb?: number;
  records?: number;
  note: string;
  skipped?: boolean;
}

/** What `ldapflow run --summary FILE` writes, the fields the bench reads. */
interface CliSummary { read: number; written: number; rejected: number; rejects?: Record<string, number> }

interface Measured {
  seconds: number;
  code: number | null;
  stdout: string;
  stderr: string;
  rssKb?: number;
}

const hasTime = existsSync(TIME);

let timeoutSeconds = 1800;

function measure(cmd: string, args: string[]): Promise<Measured> {
  return new Promise((resolvePromise) => {
    const full = hasTime ? [TIME, '-v', cmd, ...args] : [cmd, ...args];
    const t0 = process.hrtime.bigint();
    // Own process group, so a measurement that runs past --timeout is stopped with its children (by our pid only).
    const p = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot, detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-p.pid!, 'SIGTERM'); } catch { /* already gone */ }
    }, timeoutSeconds * 1000);
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19)); });
    p.on('close', (code) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let rssKb: number | undefined;
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (m) rssKb = Number(m[1]);
      if (hasTime) {
        // Our own child's exit code is inside `time`'s report when it was killed or failed.
        const e = /Exit status: (\d+)/.exec(stderr);
        if (e) code = Number(e[1]);
        stderr = stderr.replace(/\n?\tCommand being timed:[\s\S]*$/, '');
      }
      if (timedOut) stderr = `timed out after ${timeoutSeconds} s (--timeout)\n` + stderr;
      resolvePromise({ seconds, code: timedOut ? -1 : code, stdout, stderr, rssKb });
    });
  });
}

function parseChild(m: Measured): ChildResult {
  const lastLine = m.stdout.trim().split('\n').pop() ?? '';
  try { return JSON.parse(lastLine) as ChildResult; } catch { return { error: firstLine(m.stderr) || `exit ${m.code}, no result` }; }
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? '';
}

interface Truth { entries: number; bytes: number; seed: number; outOfOrderRequested: number; excluded: number }

async function ensureData(dir: string, size: number, seed: number): Promise<{ file: string; truth: Truth }> {
  const file = join(dir, `oid-${size}-s${seed}-o5.ldif`);
  const truthFile = file.replace(/\.ldif$/, '.truth.json');
  if (existsSync(file) && existsSync(truthFile)) {
    const t = JSON.parse(readFileSync(truthFile, 'utf8')) as Truth;
    if (t.entries === size && t.seed === seed && statSync(file).size === t.bytes) {
      log(`using ${file} (${(t.bytes / 1e6).toFixed(0)} MB)`);
      return { file, truth: t };
    }
  }
  log(`generating ${size} entries into ${file} ...`);
  const r = spawnSync(process.execPath, [join(here, 'gen.js'), '--entries', String(size), '--out', file, '--seed', String(seed),
    '--out-of-order', '0.05', '--truth', truthFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`gen failed for ${size} entries`);
  return { file, truth: JSON.parse(readFileSync(truthFile, 'utf8')) as Truth };
}

function log(s: string): void {
  process.stderr.write(`bench: ${s}\n`);
}

/** A pipeline row's name: the default worker count says so. */
function pipelineName(w: number): string {
  return `ldapflow pipeline --workers ${w}${w === defaultPipelineWorkers() ? ' (the default)' : ''}`;
}

function rowFrom(size: number, name: string, bytes: number, m: Measured, records: number | undefined, note: string): Row {
  if (m.code === -1) return { size, name, note: firstLine(m.stderr), skipped: true };
  const rssKb = m.rssKb;
  return {
    size, name, seconds: m.seconds, records,
    entriesPerSec: size / m.seconds,
    mbPerSec: bytes / 1e6 / m.seconds,
    rssMb: rssKb !== undefined ? rssKb / 1024 : undefined,
    note,
  };
}

function countNote(truth: Truth, seen: number | undefined): string {
  if (seen === undefined) return '';
  return seen === truth.entries ? '' : `COUNT MISMATCH: saw ${seen}, file has ${truth.entries}`;
}

interface Args {
  sizes: number[];
  quick: boolean;
  dir: string;
  seed: number;
  only: Set<string>;
  workers: number[];
  results: string | null;
  /** Measure every row this many times (rounds of all rows) and keep the fastest run (see bestOf). */
  repeat: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    sizes: [100000, 1000000], quick: false, dir: '/tmp/ldapflow-bench', seed: 1,
    only: new Set(['floor', 'python', 'parse', 'write', 'pipeline']), workers: [0, 1, 2, 3], results: join(repoRoot, 'bench', 'RESULTS.md'), repeat: 1,
  };
  let sizesGiven = false;
  let resultsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const val = () => inline ?? argv[++i] ?? die(`${flag} needs a value`);
    switch (flag) {
      case '--sizes': a.sizes = val().split(',').map((s) => Number(s.trim())); sizesGiven = true; break;
      case '--quick': a.quick = true; break;
      case '--timeout': timeoutSeconds = Number(val()); if (!(timeoutSeconds > 0)) die('--timeout: seconds > 0'); break;
      case '--dir': a.dir = val(); break;
      case '--seed': a.seed = Number(val()); break;
      case '--only': a.only = new Set(val().split(',').map((s) => s.trim())); break;
      case '--workers': a.workers = val().split(',').map((s) => Number(s.trim())); break;
      case '--repeat': a.repeat = Number(val()); if (!Number.isInteger(a.repeat) || a.repeat < 1) die('--repeat: an integer >= 1'); break;
      case '--results': a.results = resolve(val()); resultsGiven = true; break;
      case '--no-results': a.results = null; resultsGiven = true; break;
      case '-h': case '--help':
        process.stderr.write('usage: npm run bench -- [--sizes 100000,1000000] [--quick] [--dir D] [--seed S] ' +
          '[--only floor,python,parse,write,pipeline] [--workers 0,1,2,3] [--repeat N] [--timeout SECONDS] [--results FILE | --no-results]\n');
        process.exit(0);
      // falls through
      default: die(`unknown argument ${argv[i]}`);
    }
  }
  if (a.quick) {
    if (!sizesGiven) a.sizes = [20000];
    if (!resultsGiven) a.results = null;
  }
  if (a.sizes.some((s) => !Number.isInteger(s) || s < 1000)) die('--sizes: integers >= 1000');
  if (a.workers.some((w) => !Number.isInteger(w) || w < 0)) die('--workers: integers >= 0');
  return a;
}

function die(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const fmt = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? '' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

function table(rows: Row[]): string {
  const head = ['entries', 'measurement', 'seconds', 'entries/s', 'MB/s', 'peak RSS MB', 'x floor', 'x python-ldap', 'notes'];
  const lines: string[][] = [];
  for (const r of rows) {
    const floor = rows.find((x) => x.size === r.size && x.name === 'floor' && !x.skipped);
    const py = rows.find((x) => x.size === r.size && x.name === 'python-ldap parse' && !x.skipped);
    if (r.skipped) { lines.push([fmt(r.size), r.name, '', '', '', '', '', '', r.note]); continue; }
    lines.push([
      fmt(r.size), r.name, fmt(r.seconds, 2), fmt(r.entriesPerSec), fmt(r.mbPerSec, 1), fmt(r.rssMb),
      floor?.entriesPerSec ? fmt(r.entriesPerSec! / floor.entriesPerSec, 2) : '',
      py?.entriesPerSec ? fmt(r.entriesPerSec! / py.entriesPerSec, 2) : '',
      r.note,
    ]);
  }
  const md = ['| ' + head.join(' | ') + ' |', '|' + head.map((_, i) => (i >= 2 && i <= 7 ? '---:' : '---')).join('|') + '|'];
  for (const l of lines) md.push('| ' + l.join(' | ') + ' |');
  return md.join('\n');
}

function targets(rows: Row[]): string[] {
  const out: string[] = [];
  const sizes = [...new Set(rows.map((r) => r.size))];
  for (const size of sizes) {
    const py = rows.find((x) => x.size === size && x.name === 'python-ldap parse' && !x.skipped);
    const check = (r: Row | undefined, what: string, mbs: number | null, eps: number | null, rss: number) => {
      if (!r || r.skipped || r.entriesPerSec === undefined) { out.push(`- ${fmt(size)} entries, ${what}: not measured`); return; }
      const parts: string[] = [];
      if (mbs !== null) parts.push(`${fmt(r.mbPerSec, 1)} MB/s ${r.mbPerSec! >= mbs ? '>=' : '<'} ${mbs} MB/s ${r.mbPerSec! >= mbs ? 'PASS' : 'FAIL'}`);
      if (eps !== null) parts.push(`${fmt(r.entriesPerSec)} entries/s ${r.entriesPerSec >= eps ? '>=' : '<'} ${fmt(eps)} ${r.entriesPerSec >= eps ? 'PASS' : 'FAIL'}`);
      if (py?.entriesPerSec) {
        const x = r.entriesPerSec / py.entriesPerSec;
        parts.push(`${fmt(x, 2)}x python-ldap ${x >= 4 ? '>= 4x PASS' : '< 4x FAIL'}`);
      } else parts.push('x python-ldap: not measured');
      if (r.rssMb !== undefined) parts.push(`RSS ${fmt(r.rssMb)} MB ${r.rssMb <= rss ? '<=' : '>'} ${rss} MB ${r.rssMb <= rss ? 'PASS' : 'FAIL'}`);
      if (r.note) parts.push(`(${r.note})`);
      out.push(`- ${fmt(size)} entries, ${what} (${r.name}): ${parts.join('; ')}`);
    };
    // Parse+write: the faster of the library inline and the CLI with its default workers.
    const writes = rows.filter((x) => x.size === size && (x.name === 'ldapflow parse+write' || x.name.startsWith('ldapflow run --passthrough')) && !x.skipped && !x.note.startsWith('failed'));
    check(writes.sort((a, b) => (b.entriesPerSec ?? 0) - (a.entriesPerSec ?? 0))[0] ?? rows.find((x) => x.size === size && x.name === 'ldapflow parse+write'), 'parse+write', 80, null, 300);
    const pipes = rows.filter((x) => x.size === size && x.name.startsWith('ldapflow pipeline') && !x.skipped && !x.note.startsWith('failed'));
    const pipe = (w: number) => pipes.find((x) => x.name === pipelineName(w));
    const dflt = pipe(defaultPipelineWorkers());
    const best = [...pipes].sort((a, b) => (b.entriesPerSec ?? 0) - (a.entriesPerSec ?? 0))[0];
    // The issue's command is `ldapflow run big.ldif out.ldif --preset oid-to-oud`: the default workers.
    if (dflt) check(dflt, 'full pipeline, the default workers', null, 40000, 512);
    if (!dflt || best !== dflt) check(best ?? rows.find((x) => x.size === size && x.name.startsWith('ldapflow pipeline')), 'full pipeline, best worker count', null, 40000, 512);
    const w0 = pipe(0);
    for (const w of [2, defaultPipelineWorkers()].filter((v, i, a) => v > 0 && a.indexOf(v) === i)) {
      const r = pipe(w);
      if (!w0?.entriesPerSec || !r?.entriesPerSec) continue;
      const x = r.entriesPerSec / w0.entriesPerSec;
      out.push(`- ${fmt(size)} entries: ${w} workers${w === defaultPipelineWorkers() ? ' (the default)' : ''} vs inline: ${fmt(x, 2)}x (${x > 1.1 ? 'the pool pays' : x < 0.9 ? 'the pool costs' : 'no clear difference'} on ${cpus().length} cores)`);
    }
  }
  return out;
}

/**
 * Rows measured in several rounds, one per row: each row's fastest run, with every run's time in its note and the
 * highest peak RSS of its runs. A row skipped in every round stays skipped.
 */
export function bestOf(rounds: Row[][]): Row[] {
  if (rounds.length === 1) return rounds[0];
  return rounds[0].map((first) => {
    const runs = rounds.map((rs) => rs.find((r) => r.name === first.name)).filter((r): r is Row => r !== undefined && !r.skipped && r.seconds !== undefined);
    if (runs.length === 0) return first;
    const best = runs.reduce((a, b) => (b.seconds! < a.seconds! ? b : a));
    const rss = runs.map((r) => r.rssMb).filter((x): x is number => x !== undefined);
    const times = `best of ${runs.length}: ${runs.map((r) => fmt(r.seconds, 2)).join(' / ')} s`;
    return { ...best, rssMb: rss.length ? Math.max(...rss) : undefined, note: best.note ? `${times}; ${best.note}` : times };
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv.slice(1));
  const args = parseArgs(argv);
  const loadBefore = loadavg().map((x) => x.toFixed(1)).join(' ');
  mkdirSync(args.dir, { recursive: true });
  const self = fileURLToPath(import.meta.url);
  const allRows: Row[] = [];
  const pyAvailable = existsSync(PYTHON) &&
    spawnSync(PYTHON, ['-c', 'import ldif'], { stdio: 'ignore' }).status === 0;
  const cliAvailable = existsSync(CLI);

  for (const size of args.sizes) {
    const { file, truth } = await ensureData(args.dir, size, args.seed);
    const bytes = truth.bytes;
    const out = join(args.dir, `out-${size}.ldif`);
    const cleanup = () => { for (const f of [out, out + '.rejects.ldif', out + '.partial', join(args.dir, 'summary.json')]) rmSync(f, { force: true }); };
    const node = (what: string, extra: string[] = []) => measure(process.execPath, [self, '--child', what, file, ...extra]);
    /** The output's size, for a row's note. */
    const outNote = (): string => {
      let n = 0;
      try { n = statSync(out).size; } catch { /* not written */ }
      return `out ${(n / 1e6).toFixed(0)} MB`;
    };
    /**
     * `ldapflow run FILE OUT ...extra` measured, and its --summary read: the records it read and a note (the count
     * check, then what `describe` says of the summary), or why there is no summary.
     */
    const runCli = async (extra: string[], describe: (s: CliSummary) => string[]): Promise<{ m: Measured; read?: number; note: string }> => {
      const summaryFile = join(args.dir, 'summary.json');
      rmSync(summaryFile, { force: true });
      const m = await measure(process.execPath, [CLI, 'run', file, out, ...extra, '--quiet', '--summary', summaryFile, '--reject', out + '.rejects.ldif']);
      if (m.code !== 0 && m.code !== 3) return { m, note: `failed: exit ${m.code}: ${firstLine(m.stderr).slice(0, 160)}` };
      let s: CliSummary;
      try { s = JSON.parse(readFileSync(summaryFile, 'utf8')) as CliSummary; } catch { return { m, note: `exit ${m.code}, no summary` }; }
      return { m, read: s.read, note: [countNote(truth, s.read), ...describe(s)].filter(Boolean).join('; ') };
    };

    const rounds: Row[][] = [];
    for (let round = 0; round < args.repeat; round++) {
      if (args.repeat > 1) log(`${size}: round ${round + 1} of ${args.repeat}`);
      const rows: Row[] = [];
      rounds.push(rows);
      if (args.only.has('floor')) {
        log(`${size}: floor`);
        const m = await node('floor');
        const r = parseChild(m);
        rows.push(rowFrom(size, 'floor', bytes, { ...m, rssKb: m.rssKb ?? r.maxRssKb }, r.records, r.error ?? countNote(truth, r.records)));
      }
      if (args.only.has('python')) {
        if (!pyAvailable) rows.push({ size, name: 'python-ldap parse', note: `skipped: ${PYTHON} with python3-ldap not installed (apt-get install python3-ldap)`, skipped: true });
        else {
          log(`${size}: python-ldap`);
          const m = await measure(PYTHON, ['-c', PY_PARSE, file]);
          const r = parseChild(m);
          rows.push(rowFrom(size, 'python-ldap parse', bytes, m, r.records, r.error ?? countNote(truth, r.records)));
        }
      }
      if (args.only.has('parse')) {
        log(`${size}: ldapflow parse`);
        const m = await node('parse');
        const r = parseChild(m);
        if (r.missing) rows.push({ size, name: 'ldapflow parse', note: 'not yet available (readLdif)', skipped: true });
        else rows.push(rowFrom(size, 'ldapflow parse', bytes, { ...m, rssKb: m.rssKb ?? r.maxRssKb }, r.records,
          r.error ?? [countNote(truth, r.records), r.rejected ? `${r.rejected} rejected` : ''].filter(Boolean).join('; ')));
      }
      if (args.only.has('write')) {
        log(`${size}: ldapflow parse+write`);
        const m = await node('write', [out]);
        const r = parseChild(m);
        if (r.missing) rows.push({ size, name: 'ldapflow parse+write', note: 'not yet available (readLdif, writeLdif, run)', skipped: true });
        else rows.push(rowFrom(size, 'ldapflow parse+write', bytes, { ...m, rssKb: m.rssKb ?? r.maxRssKb }, r.records,
          r.error ?? [countNote(truth, r.records), `written ${fmt(r.written)}`, r.rejected ? `${r.rejected} rejected` : '',
            outNote()].filter(Boolean).join('; ')));
        cleanup();
        // The same job through the CLI, where the workers parse and write (the main thread only moves bytes).
        const cliName = `ldapflow run --passthrough (${defaultPassthroughWorkers()} workers, the default)`;
        if (!cliAvailable) rows.push({ size, name: cliName, note: 'not yet available (dist/src/cli.js)', skipped: true });
        else {
          log(`${size}: ${cliName}`);
          const { m: mc, read, note } = await runCli(['--passthrough'], (s) => [`written ${fmt(s.written)}`, s.rejected ? `${s.rejected} rejected` : '', outNote()]);
          rows.push(rowFrom(size, cliName, bytes, mc, read, note));
          cleanup();
        }
      }
      if (args.only.has('pipeline')) {
        for (const w of args.workers) {
          const name = pipelineName(w);
          if (!cliAvailable) { rows.push({ size, name, note: 'not yet available (dist/src/cli.js)', skipped: true }); continue; }
          log(`${size}: ${name}`);
          const { m, read, note } = await runCli(['--preset', 'oid-to-oud', '--workers', String(w)], (s) => {
            const top = Object.entries(s.rejects ?? {}).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${v}`).join(', ');
            return [`written ${fmt(s.written)}`, `rejected ${fmt(s.rejected)}${top ? ` (${top})` : ''}`,
              s.written >= s.read && truth.excluded > 0
                ? `NOTHING EXCLUDED (truth: ${fmt(truth.excluded)} Oracle-only records)` : `Oracle-only in input ${fmt(truth.excluded)}`];
          });
          rows.push(rowFrom(size, name, bytes, m, read, note));
          cleanup();
        }
      }
      process.stderr.write(table(rows.filter((r) => r.size === size)) + '\n');
    }
    allRows.push(...bestOf(rounds));
    if (args.repeat > 1) process.stderr.write(table(allRows.filter((r) => r.size === size)) + '\n');
  }

  const cmd = 'npm run bench' + (argv.length ? ' -- ' + argv.join(' ') : '');
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
    `Node ${process.version}, ${pyAvailable ? spawnSync(PYTHON, ['-c', 'import ldap,sys; print("python-ldap", ldap.__version__, "on Python", sys.version.split()[0])'], { encoding: 'utf8' }).stdout.trim() : 'python-ldap not installed'}`;
  const load = `load average ${loadBefore} at start, ${loadavg().map((x) => x.toFixed(1)).join(' ')} at end`;
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const tgt = targets(allRows);
  const report = `${table(allRows)}\n\nTargets (issues 2 and 6):\n${tgt.join('\n')}\n`;
  process.stdout.write(`\n${report}\nCommand: ${cmd}\nMachine: ${machine}\nLoad: ${load}\nDate: ${date}\n`);
  if (args.results) {
    writeFileSync(args.results, `# Benchmark results\n\nThe latest full run of \`npm run bench\` (bench/run.ts). Regenerate with the command below; ` +
      `\`--quick\` runs do not overwrite this file.\n\n- Command: \`${cmd}\`\n- Machine: ${machine}\n- Load: ${load} (the 2 cores are shared)\n- Date: ${date}\n` +
      `- Input: bench/gen.ts OID-style exports (seed ${args.seed}, 5% of entries before their parent, ~1.8 KB per entry), ` +
      `generated into ${args.dir}\n\n${report}\n## What each row measures\n\n` +
      '- **floor**: Node streams the file in 1 MiB chunks and counts records by their blank-line separators. No parsing: the ' +
      'fastest any LDIF reader on this machine could go.\n' +
      '- **python-ldap parse**: Debian python3-ldap `ldif.LDIFParser(f).parse()` with a `handle()` that only counts.\n' +
      '- **ldapflow parse**: `readLdif({ input })` batches iterated and counted (library API, no stages, no output).\n' +
      '- **ldapflow parse+write**: `run({ source: readLdif, stages: [], sink: writeLdif })`: LDIF in, LDIF out, no transformation, all in the main thread.\n' +
      '- **ldapflow run --passthrough**: `node dist/src/cli.js run IN OUT --passthrough --quiet`, the same job through the CLI with its default ' +
      '`--workers` (one per core here): the workers parse and write the LDIF text, the main thread reads and writes bytes.\n' +
      '- **ldapflow pipeline --workers N**: `node dist/src/cli.js run IN OUT --preset oid-to-oud --workers N --quiet`, the ' +
      'whole migration (schema fix, categorize, ordering, dangling-reference removal, Oracle-only exclusion). The row marked ' +
      '"(the default)" is the worker count the CLI picks without `--workers` (one more than the cores here, see defaultWorkers): ' +
      'the issue\'s `ldapflow run big.ldif out.ldif --preset oid-to-oud`.\n\n' +
      'Every row is a separate child process; time is its wall time including start-up; peak RSS is the "Maximum resident ' +
      'set size" reported by `/usr/bin/time -v` for that process. entries/s and MB/s are over the input file\'s records and ' +
      'bytes. "x floor" and "x python-ldap" are entries/s ratios to those rows of the same size. A record count that ' +
      'differs from the generator\'s truth file is flagged in the notes. The machine is shared: rerun before drawing fine conclusions.' +
      (args.repeat > 1 ? ` Each row was measured ${args.repeat} times, in ${args.repeat} rounds of all the rows of its size (python-ldap\'s ` +
        'included), and its fastest run is the one in the table: other load on the machine only ever adds time. The notes give ' +
        'every run\'s time; peak RSS is the highest of the runs.' : '') + '\n');
    log(`wrote ${args.results}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => { process.stderr.write(`bench: ${(e as Error).message}\n`); process.exit(1); });
}
