/**
 * src/cli.ts (built: dist/src/cli.js, `npm test` runs tsc first): exit codes 0/1/2/3/130, --summary JSON, one readable
 * line on fatal errors (no stack trace), --help on every command, Ctrl-C on a slow stdin flushes whole records.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLdifText } from '../src/sources/ldif-parser.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../dist/src/cli.js');
const ldapflow = (args: string[], opts: { input?: string | Buffer; cwd?: string } = {}) =>
  spawnSync(process.execPath, [cli, ...args], { input: opts.input, cwd: opts.cwd, encoding: 'utf8' });

function sample(n: number, bad: number[] = []): string {
  let s = 'version: 1\n';
  for (let i = 0; i < n; i++) s += bad.includes(i) ? `\ndn: cn=u${i},dc=x\ncn u${i}\n` : `\ndn: cn=u${i},dc=x\ncn: u${i}\n`;
  return s;
}
const noStack = (s: string) => !/\n\s+at .*:\d+:\d+/.test(s);

t.ok(existsSync(cli), 'the CLI is built');

t.test('exit 0: done; --summary JSON; one summary line on stderr', async (t) => {
  const dir = t.testdir({ 'in.ldif': sample(100) });
  const r = ldapflow(['run', 'in.ldif', 'out.ldif', '--passthrough', '--summary', 'sum.json'], { cwd: dir });
  t.equal(r.status, 0, r.stderr);
  const s = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'));
  for (const k of ['read', 'written', 'rejected', 'durationSeconds', 'entriesPerSecond', 'rejects']) t.ok(k in s, `summary has "${k}"`);
  t.match(s, { read: 100, written: 100, rejected: 0, rejects: {} });
  t.type(s.durationSeconds, 'number');
  t.type(s.entriesPerSecond, 'number');
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.match(r.stderr, /read 100, written 100, rejected 0/);
  t.equal(parseLdifText(readFileSync(join(dir, 'out.ldif'))).records.length, 100);
  t.notOk(existsSync(join(dir, 'out.ldif.rejects.ldif')), 'no reject file without rejects');
});

t.test('exit 3: done with rejects; rejects by code in the summary; the reject file', async (t) => {
  const dir = t.testdir({ 'in.ldif': sample(100, [1, 50]) + '\ndn: cn=b,dc=x\ncn:: !!\n' });
  const r = ldapflow(['run', 'in.ldif', 'out.ldif', '--passthrough', '--summary', 'sum.json'], { cwd: dir });
  t.equal(r.status, 3, r.stderr);
  t.match(JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8')), { read: 101, written: 98, rejected: 3, rejects: { LDIF_MISSING_COLON: 2, LDIF_INVALID_BASE64: 1 } });
  t.match(r.stderr, /rejects: LDIF_MISSING_COLON 2, LDIF_INVALID_BASE64 1; rejected records in out\.ldif\.rejects\.ldif/);
  const rej = readFileSync(join(dir, 'out.ldif.rejects.ldif'), 'utf8').replace(/\n /g, '');
  t.match(rej, /# LDIF_MISSING_COLON: line has no ":" \("cn u1"\) \(in\.ldif:7\)\ndn: cn=u1,dc=x\ncn u1\n/);
  t.equal(parseLdifText(rej).rejects.length, 3, 'the reject file parses as LDIF, its records rejected for the same reasons');
  const r2 = ldapflow(['run', 'in.ldif', 'out2.ldif', '--passthrough', '--reject', 'mine.ldif', '-q'], { cwd: dir });
  t.equal(r2.status, 3);
  t.equal(r2.stderr, '', '-q: nothing on stderr');
  t.ok(existsSync(join(dir, 'mine.ldif')), '--reject names the file');
});

t.test('exit 1: thresholds and fatal errors, one readable line, no stack trace', async (t) => {
  const dir = t.testdir({ 'in.ldif': sample(2000, [10, 20, 30]), 'v2.ldif': 'version: 2\ndn: cn=a\n', 'nul.ldif': Buffer.from('dn: cn=a\ncn: \0\n') });
  const cases: Array<[string[], RegExp]> = [
    [['run', 'in.ldif', 'o1.ldif', '--passthrough', '--max-errors', '2', '--summary', 's1.json'], /^ldapflow: RUN_TOO_MANY_ERRORS: 3 records rejected, more than --max-errors 2: stopped; see o1\.ldif\.rejects\.ldif$/m],
    [['run', 'in.ldif', 'o2.ldif', '--passthrough', '--max-error-rate', '0.001'], /^ldapflow: RUN_ERROR_RATE: 3 of \d+ records rejected \(0\.\d+%\), above --max-error-rate 0\.001: stopped/m],
    [['run', 'missing.ldif', 'o3.ldif'], /^ldapflow: missing\.ldif: SOURCE_NOT_FOUND: no such file$/m],
    [['run', 'v2.ldif', 'o4.ldif', '--passthrough'], /^ldapflow: v2\.ldif:1: LDIF_UNSUPPORTED_VERSION: unsupported LDIF version "2"/m],
    [['run', 'nul.ldif', 'o5.ldif', '--passthrough'], /^ldapflow: nul\.ldif:2: LDIF_NOT_TEXT: /m],
    [['run', 'in.ldif', join('no-such-dir', 'o6.ldif'), '--passthrough'], /^ldapflow: .*LDIF_OPEN_FAILED: cannot write/m],
  ];
  for (const [args, want] of cases) {
    const r = ldapflow(args, { cwd: dir });
    t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
    t.match(r.stderr, want, `${args.join(' ')}: the reason`);
    t.ok(noStack(r.stderr), 'no stack trace');
    t.ok(r.stderr.trim().split('\n').length <= 2, 'at most the summary line and the error line');
  }
  const s1 = JSON.parse(readFileSync(join(dir, 's1.json'), 'utf8'));
  t.match(s1, { rejected: 3, error: /RUN_TOO_MANY_ERRORS/ }, 'the summary is written on a fatal error too');
  t.notOk(existsSync(join(dir, 'o1.ldif')), 'a stopped run leaves no final output file');
});

t.test('exit 2: usage errors; --help on every command exits 0', async (t) => {
  const dir = t.testdir({ 'in.ldif': sample(3) });
  for (const args of [['run', 'in.ldif'], ['run'], ['bogus-command'], ['run', 'in.ldif', 'o.ldif', '--max-errors', 'ten'], ['run', 'in.ldif', 'o.ldif', '--max-error-rate', '2'], ['run', 'in.ldif', 'o.ldif', '--no-such-flag'], ['run', 'in.ldif', 'o.ldif', '--mode', 'weird']]) {
    const r = ldapflow(args, { cwd: dir });
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.ok(r.stderr.length > 0 && noStack(r.stderr), `${args.join(' ')}: a message, no stack`);
  }
  const top = ldapflow(['--help']);
  t.equal(top.status, 0);
  t.match(top.stdout, /Usage: ldapflow/);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
  t.ok(commands.includes('run'), `commands listed: ${commands.join(', ')}`);
  for (const c of commands) {
    const r = ldapflow([c, '--help']);
    t.equal(r.status, 0, `${c} --help exits 0`);
    t.match(r.stdout, new RegExp(`Usage: ldapflow ${c}`), `${c} --help prints its usage`);
    t.match(ldapflow(['help', c]).stdout, new RegExp(`Usage: ldapflow ${c}`), `help ${c}`);
  }
  const run = ldapflow(['run', '--help']);
  for (const flag of ['--reject', '--summary', '--max-errors', '--max-error-rate', '--passthrough']) t.match(run.stdout, flag, `run --help lists ${flag}`);
});

t.test('Ctrl-C on a slow stdin: exit 130, the .partial holds whole records', async (t) => {
  const dir = t.testdir({});
  const out = join(dir, 'out.ldif');
  const child = spawn(process.execPath, [cli, 'run', '-', out, '--passthrough', '--batch-size', '1'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  // Feed records slowly; stop feeding (stdin stays open) once some are on disk, then interrupt.
  let i = 0;
  const feeder = setInterval(() => { child.stdin.write(`dn: cn=u${i},dc=x\ncn: u${i}\ndescription: record ${i}\n\n`); i++; }, 5);
  while (!(existsSync(out + '.partial') && statSync(out + '.partial').size > 300)) await new Promise((r) => setTimeout(r, 20));
  clearInterval(feeder);
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  const code = await exited;
  child.stdin.destroy();
  t.equal(code, 130, 'exit 130');
  t.match(stderr, /interrupted/);
  t.ok(noStack(stderr));
  t.notOk(existsSync(out), 'no final file for an interrupted run');
  const back = parseLdifText(readFileSync(out + '.partial'));
  t.equal(back.rejects.length, 0, 'whole records only');
  t.ok(back.records.length > 0 && back.records.length <= i, `${back.records.length} records flushed of ${i} sent`);
  t.same(back.records.map((r) => r.dn), back.records.map((_, k) => `cn=u${k},dc=x`), 'in order, none missing');
  const m = /written (\d+)/.exec(stderr);
  t.equal(Number(m?.[1]), back.records.length, 'the summary counts what is in the file');
});
