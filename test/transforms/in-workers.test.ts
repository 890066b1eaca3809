/**
 * The map-stage worker pool: the same output with 1 and 2 workers as inline (LDIF bytes, reject file bytes, counts),
 * exact origins and order when raw LDIF is cut into chunks, and failures that end the run with one clear error
 * instead of a hang. The workers load the compiled modules from dist/: run `npx tsc -p .` first (npm test does).
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { run, type Summary } from '../../src/pipeline.js';
import { buildRun, type CliRunOptions } from '../../src/config.js';
import { readLdif } from '../../src/sources/ldif-file.js';
import { writeLdif } from '../../src/sinks/ldif-file.js';
import { dropFormattedRecords, formatRecord } from '../../src/sinks/ldif-format.js';
import { writeSplitLdif } from '../../src/sinks/split-ldif.js';
import { categorize } from '../../src/transforms/categorize.js';
import { fixSchema } from '../../src/transforms/fix-schema.js';
import { readLdifInWorkers, runInWorkers, workerFilePath } from '../../src/transforms/in-workers.js';
import { loadPreset } from '../../src/presets/index.js';
import { loadSchemas } from '../../src/schema/load.js';
import { LdapflowError } from '../../src/errors.js';
import type { Batch, LdifRecord, Reject } from '../../src/entry.js';
import type { MapStage, Source } from '../../src/stage.js';
import { generate } from '../../bench/gen.js';
import { TextEntry } from '../../src/transforms/text-record.js';

const root = resolve(import.meta.dirname, '..', '..');
const sample = join(root, 'samples', 'oid-export.ldif');
const distWorker = workerFilePath();

if (!existsSync(distWorker)) throw new Error(`${distWorker} is missing: build first with "npx tsc -p ."`);

function cliOptions(workers: number, extra: Partial<CliRunOptions> = {}): CliRunOptions {
  return {
    batchSize: 1000, mode: 'auto', fixSchema: true, categorize: true, order: true, strategy: 'preserve', wrap: 76,
    onExists: 'fail', preset: 'oid-to-oud', workers, quiet: true, ...extra,
  };
}

/** Run the CLI's pipeline (config.ts + pipeline.ts from src) and return what it wrote. */
async function migrate(input: string, dir: string, tag: string, workers: number, extra: Partial<CliRunOptions> = {}) {
  const out = join(dir, `${tag}-w${workers}.ldif`);
  const reject = join(dir, `${tag}-w${workers}.rejects.ldif`);
  const built = await buildRun(input, out, cliOptions(workers, { reject, ...extra }));
  const summary = await run(built.runOptions);
  await built.close?.();
  return { summary, ldif: readFileSync(out), rejects: readFileSync(reject) };
}

const comparable = (s: Summary) => ({ read: s.read, written: s.written, rejected: s.rejected, rejects: s.rejects, fixes: s.fixes, status: s.status });

async function sameAsInline(t: Test, dir: string, input: string, tag: string, extra: Partial<CliRunOptions> = {}, workers = [1, 2]) {
  const base = await migrate(input, dir, tag, 0, extra);
  t.ok(base.summary.written > 0, `${tag}: inline wrote ${base.summary.written} entries`);
  for (const w of workers) {
    const got = await migrate(input, dir, tag, w, extra);
    t.ok(got.ldif.equals(base.ldif), `${tag}: LDIF output with ${w} worker(s) is byte-identical (${got.ldif.length} bytes)`);
    t.ok(got.rejects.equals(base.rejects), `${tag}: reject file with ${w} worker(s) is byte-identical`);
    t.same(comparable(got.summary), comparable(base.summary), `${tag}: counts with ${w} worker(s) are identical`);
  }
  return base;
}

/** The two kinds of text the workers write: LDIF text for the sink, and text entries for the ordering stage. */
const TEXT_FORMATS: Array<{ wrap: number; refs?: string[] }> = [{ wrap: 76 }, { wrap: 76, refs: ['member', 'uniquemember', 'manager'] }];

let stagesCache: MapStage[] | undefined;
async function realStages(): Promise<MapStage[]> {
  if (!stagesCache) {
    const schema = await loadSchemas([]);
    stagesCache = [categorize({ schema }), fixSchema({ schema, preset: await loadPreset('oid-to-oud') })];
  }
  return stagesCache;
}

async function collect(src: Source): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of src.batches(new AbortController().signal)) out.push(b);
  return out;
}

function inlineBatches(input: string, stages: MapStage[], batchSize = 1000): Promise<Batch[]> {
  return (async () => {
    const out: Batch[] = [];
    for await (let b of readLdif({ input, batchSize }).batches(new AbortController().signal)) {
      for (const s of stages) b = s.fn(b);
      out.push(b);
    }
    return out;
  })();
}

/** Everything a batch list says, in input order: records as LDIF with their origin and category, rejects, counts. */
function digest(batches: Batch[]) {
  const records: string[] = [];
  const rejects: string[] = [];
  const counts: Record<string, number> = {};
  for (const b of batches) {
    for (const r of b.records) records.push(`${r.origin?.file}:${r.origin?.line}#${r.origin?.index} ${r.category ?? '-'}\n${formatRecord(r)}`);
    for (const r of b.rejects) rejects.push(describeReject(r));
    for (const k in b.counts ?? {}) counts[k] = (counts[k] ?? 0) + b.counts![k];
  }
  return { records, rejects, counts };
}

function describeReject(r: Reject): string {
  return `${r.code} ${r.message} ${r.dn} ${r.origin?.file}:${r.origin?.line}#${r.origin?.index}\n${r.raw ?? (r.record ? formatRecord(r.record as LdifRecord) : '')}`;
}

t.test('the CLI pipeline: samples/oid-export.ldif, inline vs 1 and 2 workers', async (t) => {
  await sameAsInline(t, t.testdir(), sample, 'sample');
});

t.test('the CLI pipeline: a generated 20k OID export, inline vs 1 and 2 workers, with and without ordering', async (t) => {
  const dir = t.testdir();
  const big = join(dir, 'gen20k.ldif');
  execFileSync(process.execPath, [join(root, 'dist', 'bench', 'gen.js'), '--entries', '20000', '--out', big, '--seed', '3'], { stdio: 'ignore' });
  const base = await sameAsInline(t, dir, big, 'gen20k');
  t.equal(base.summary.read, 20000, 'every generated entry was read');
  t.equal(base.summary.written + base.summary.rejected, 20000, 'every entry is written or rejected');
  // Without the ordering barrier the pool's batches go straight to the sink (2 workers: the 1-worker path is the same code).
  await sameAsInline(t, dir, big, 'gen20k-no-order', { order: false }, [2]);
});

/**
 * What the ordering stage does to entries, all of it: groups held until their members came (members spelled another
 * way, with a UID suffix, not a DN, dangling, a non-ASCII DN in base64, a binary value), children before parents, an
 * entry twice (after it was written: a modify; while it waited: a reject), a parent that never comes, managers named
 * before they come. With workers the ordering stage gets text entries (src/transforms/text-record.ts) and parses one
 * back only where it changes it; the output must not show it.
 */
function orderingFile(dir: string): string {
  const r: string[] = [];
  const user = (uid: string, ou = 'People', extra = '') =>
    `dn: uid=${uid},ou=${ou},dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: S ${uid}\n${extra}`;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  r.push('dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n');
  r.push('dn: ou=Groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: Groups\n');
  for (let g = 0; g < 40; g++) {
    let m = `dn: cn=Group ${g},ou=Groups,dc=example,dc=com\nobjectClass: groupOfUniqueNames\ncn: Group ${g}\n`;
    for (let k = 0; k < 25; k++) {
      const u = (g * 7 + k * 13) % 400;
      if (k % 5 === 0) m += `uniqueMember: UID=U${u}, OU=People,DC=Example,DC=com\n`;
      else if (k % 5 === 1) m += `uniqueMember: uid=u${u},ou=People,dc=example,dc=com#'0101'B\n`;
      else m += `uniqueMember: uid=u${u},ou=People,dc=example,dc=com\n`;
    }
    if (g % 4 === 0) m += 'uniqueMember: uid=ghost,ou=People,dc=example,dc=com\n';
    if (g % 6 === 0) m += 'uniqueMember: not a dn\n';
    if (g % 5 === 0) m += `uniqueMember:: ${b64('cn=José Ávila,ou=People,dc=example,dc=com')}\n`;
    if (g % 9 === 0) m += `owner: cn=Group ${g + 1},ou=Groups,dc=example,dc=com\n`;
    r.push(m);
  }
  r.push('dn: cn=Binary,ou=Groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: Binary\nmember:: /9j/4AAQSkZJRgABAQ==\nmember: uid=u1,ou=People,dc=example,dc=com\n');
  r.push('dn: cn=Group 3,ou=Groups,dc=example,dc=com\nobjectClass: groupOfUniqueNames\ncn: Group 3\nuniqueMember: uid=u3,ou=People,dc=example,dc=com\n');
  for (let u = 0; u < 400; u++) {
    if (u === 100) r.push(user('c1', 'Contractors'), user('c2', 'Contractors', 'manager: uid=u399,ou=people,dc=example,dc=com\n'));
    if (u === 150) r.push('dn: ou=People,dc=example,dc=com\nobjectClass: organizationalUnit\nou: People\n');
    if (u === 200) r.push('dn: ou=Contractors,dc=example,dc=com\nobjectClass: organizationalUnit\nou: Contractors\n');
    r.push(user(`u${u}`, 'People', u % 3 === 0 ? `manager: UID=u${(u + 50) % 400},ou=People,dc=example,dc=com\n` : ''));
  }
  r.push(`dn:: ${b64('cn=José Ávila,ou=People,dc=example,dc=com')}\nobjectClass: person\ncn:: ${b64('José Ávila')}\nsn: Ávila\n`);
  r.push(user('u5', 'People', 'description: the second u5\n'));
  r.push(user('c1', 'Contractors', 'description: the second c1, while the first waits\n'));
  r.push(user('lost', 'Nowhere'));
  const file = join(dir, 'ordering.ldif');
  writeFileSync(file, 'version: 1\n\n' + r.join('\n'));
  return file;
}

t.test('the CLI pipeline with ordering: every kind of held, waiting, rewritten and duplicate entry, inline vs workers', async (t) => {
  const dir = t.testdir();
  const file = orderingFile(dir);
  for (const [tag, extra] of [
    ['preset', {}],
    ['no-preset', { preset: undefined }],
    ['preset-spill', { bufferEntries: 20, batchSize: 37 }],
    ['no-preset-spill', { preset: undefined, bufferEntries: 10, batchSize: 50 }],
    // The schema fix removes a reference value that is not a DN; without it the ordering stage meets one.
    ['no-fix', { preset: undefined, fixSchema: false }],
    ['no-fix-spill', { preset: undefined, fixSchema: false, bufferEntries: 10, batchSize: 50 }],
  ] as Array<[string, Partial<CliRunOptions>]>) {
    const base = await sameAsInline(t, dir, file, tag, extra);
    const f = base.summary.fixes;
    const codes = ['ORDER_HELD_FOR_REFERENCES', 'REF_REWRITTEN', 'REF_DANGLING', 'ORDER_CHILD_BEFORE_PARENT', 'ORDER_DUPLICATE_AS_MODIFY'];
    if (tag.startsWith('no-fix')) codes.push('REF_INVALID_DN');
    for (const code of codes) t.ok(f[code] > 0, `${tag}: the run did ${code} (${f[code]})`);
    if (tag.endsWith('spill')) t.ok(f.ORDER_SPILLED > 0, `${tag}: records spilled to disk (${f.ORDER_SPILLED})`);
    t.ok((base.summary.rejects.ORDER_DUPLICATE_DN ?? 0) > 0 && (base.summary.rejects.ORDER_MISSING_PARENT ?? 0) > 0, `${tag}: duplicate and missing-parent rejects`);
  }
  // The runs above compared something: with workers, what reaches the ordering stage is text entries.
  const built = await buildRun(file, join(dir, 'probe.ldif'), cliOptions(2));
  let text = 0;
  let all = 0;
  for await (const b of built.runOptions.source.batches(new AbortController().signal)) {
    for (const r of b.records) { all++; if (r instanceof TextEntry) text++; }
  }
  await built.close?.();
  t.ok(all > 400 && text >= all - 10, `with 2 workers the ordering stage gets text entries (${text} of ${all})`);
});

/**
 * A header comment block, the version line, CRLF line ends (in the second file), folded lines, a base64 binary value,
 * bad records, comment-only blocks between records: [LF file, CRLF file].
 */
function mixedFiles(dir: string): [string, string] {
  const recs: string[] = [];
  for (let i = 0; i < 700; i++) {
    let r = `# entry ${i}\ndn: cn=user${i},ou=People,dc=example,dc=com\nobjectClass: top\nobjectClass: person\ncn: user${i}\nsn: Surname ${i}\n`;
    if (i % 7 === 0) r += `description: a long value that is folded over more than one line so that line numbers must\n  count continuation lines ${i}\n`;
    if (i % 11 === 0) r += 'userCertificate;binary:: MIIBAP//AAE=\n';
    if (i % 97 === 5) r = `cn: no dn line here ${i}\n`;
    if (i % 50 === 3) r += '\n# a comment-only block between records\n';
    recs.push(r);
  }
  const text = '# exported by a test\n# second comment line\n\nversion: 1\n\n' + recs.join('\n');
  const lf = join(dir, 'mixed.ldif');
  const crlf = join(dir, 'mixed-crlf.ldif');
  writeFileSync(lf, text);
  writeFileSync(crlf, text.replace(/\n/g, '\r\n'));
  return [lf, crlf];
}

t.test('raw chunks parsed in workers: origins, order and rejects are those of the inline reader', async (t) => {
  const [lf, crlf] = mixedFiles(t.testdir());
  const stages = await realStages();
  for (const file of [lf, crlf]) {
    const want = digest(await inlineBatches(file, stages, 1000));
    for (const batchSize of [7, 100]) {
      const batches = await collect(readLdifInWorkers({ input: file, stages, workers: 2, queueDepth: 3, batchSize }));
      t.ok(batches.length > 3, `${batchSize}: cut into ${batches.length} chunks`);
      t.same(batches.map((b) => b.seq), batches.map((_, i) => i), 'batch sequence numbers in order');
      const got = digest(batches);
      t.equal(got.records.length, want.records.length, `${file.endsWith('crlf.ldif') ? 'CRLF' : 'LF'} / ${batchSize}: same number of records`);
      t.same(got.records, want.records, 'same records, origins (line, index) and categories, in the same order');
      t.same(got.rejects, want.rejects, 'same rejects with the same origins');
      t.same(got.counts, want.counts, 'same counts');
    }
  }
});

t.test('a regular file read by the workers gives what the same bytes through a stream give', async (t) => {
  const [lf, crlf] = mixedFiles(t.testdir());
  const stages = await realStages();
  for (const file of [lf, crlf]) {
    const tag = file.endsWith('crlf.ldif') ? 'CRLF' : 'LF';
    for (const format of [undefined, TEXT_FORMATS[1]]) {
      const opts = { input: file, stages, workers: 2, batchSize: 13, ...(format ? { format } : {}) };
      const fromFile = await collect(readLdifInWorkers(opts));
      const fromStream = await collect(readLdifInWorkers({ ...opts, stream: createReadStream(file) }));
      const what = `${tag}, ${format ? 'text entries' : 'records'}`;
      t.ok(fromFile.length > 20, `${what}: the file was cut into ${fromFile.length} chunks`);
      const a = digest(fromFile);
      const b = digest(fromStream);
      t.same(a.records, b.records, `${what}: the same records, origins and categories`);
      t.same(a.rejects, b.rejects, `${what}: the same rejects`);
      t.same(a.counts, b.counts, `${what}: the same counts`);
    }
  }
});

t.test('a regular file cut while the workers read it: one error saying so, not a short output', async (t) => {
  const file = join(t.testdir(), 'cut.ldif');
  await generate({ entries: 3000, out: file, seed: 5, outOfOrder: 0 });
  const size = statSync(file).size;
  let err: LdapflowError | undefined;
  let n = 0;
  try {
    for await (const b of readLdifInWorkers({ input: file, stages: await realStages(), workers: 2, batchSize: 20 }).batches(new AbortController().signal)) {
      if (b.seq === 0) truncateSync(file, Math.floor(size / 2));
      n += b.records.length + b.rejects.length;
    }
  } catch (e) { err = e as LdapflowError; }
  t.equal(err?.code, 'SOURCE_READ_FAILED', `fails (${err?.message})`);
  t.ok(n > 0 && n < 3000, `after ${n} records`);
});

t.test('a record without a blank line past maxRecordBytes: the same error from a file as from a stream', async (t) => {
  const file = join(t.testdir(), 'big.ldif');
  const recs = Array.from({ length: 40 }, (_, i) => `dn: cn=u${i},dc=example,dc=com\nobjectClass: person\ncn: u${i}\nsn: s\n`);
  recs.push('dn: cn=big,dc=example,dc=com\nobjectClass: person\ncn: big\nsn: s\n' + 'description: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n'.repeat(8000));
  writeFileSync(file, recs.join('\n'));
  for (const stream of [false, true]) {
    let err: LdapflowError | undefined;
    try {
      await collect(readLdifInWorkers({ input: file, stages: [], workers: 1, batchSize: 5, maxRecordBytes: 100_000, ...(stream ? { stream: createReadStream(file) } : {}) }));
    } catch (e) { err = e as LdapflowError; }
    t.equal(err?.code, 'LDIF_RECORD_TOO_LARGE', `${stream ? 'stream' : 'file'}: ${err?.message}`);
  }
});

t.test('a named pipe given as the input is read as a stream, not cut by offsets', { skip: process.platform === 'win32' }, async (t) => {
  const dir = t.testdir();
  const fifo = join(dir, 'in.fifo');
  execFileSync('mkfifo', [fifo]);
  const writer = new Promise<void>((res, rej) => {
    const ws = createWriteStream(fifo);
    ws.on('error', rej);
    ws.end(readFileSync(sample), () => res());
  });
  const batches = await collect(readLdifInWorkers({ input: fifo, stages: await realStages(), workers: 2, batchSize: 50 }));
  await writer;
  const want = digest(await inlineBatches(sample, await realStages())).records.map((r) => r.replace(/^[^ ]*/, ''));
  t.same(digest(batches).records.map((r) => r.replace(/^[^ ]*/, '')), want, `the same ${want.length} records as the file gives`);
});

t.test('runInWorkers over parsed batches equals the stages inline', async (t) => {
  const stages = await realStages();
  const want = digest(await inlineBatches(sample, stages, 50));
  const input = readLdif({ input: sample, batchSize: 50 }).batches(new AbortController().signal);
  const out: Batch[] = [];
  for await (const b of runInWorkers(stages, input, new AbortController().signal, { workers: 2 })) out.push(b);
  t.same(out.map((b) => b.seq), out.map((_, i) => i), 'input order kept');
  t.same(digest(out), want, 'records, rejects and counts identical');
});

/** A worker module with extra stages: `boom` throws on one DN, `die` ends its thread on one DN. */
function testWorker(dir: string): string {
  const file = join(dir, 'test-worker.mjs');
  writeFileSync(file, `
import { makeHandler } from ${JSON.stringify(pathToFileURL(distWorker).href)};
const match = (o) => (r) => r.dn.toLowerCase() === o.dn.toLowerCase();
export default makeHandler({
  boom: (o) => ({ kind: 'map', name: 'boom', fn(b) { if (b.records.some(match(o))) throw new TypeError('cannot read properties of undefined'); return b; } }),
  die: (o) => ({ kind: 'map', name: 'die', fn(b) { if (b.records.some(match(o))) process.exit(7); return b; } }),
});
`);
  return file;
}

function failingStage(factory: 'boom' | 'die', dn: string): MapStage {
  return { kind: 'map', name: factory, fn: (b) => b, worker: { factory, options: { dn } } };
}

let runs = 0;
async function runToError(t: Test, source: Source, stages: MapStage[], workerFile: string, viaRunMapStages: boolean): Promise<LdapflowError> {
  const dir = join(t.testdirName, `run${++runs}`);
  mkdirSync(dir, { recursive: true });
  try {
    await run({
      source,
      stages: viaRunMapStages ? stages : [],
      sink: writeLdif({ output: join(dir, 'out.ldif') }),
      rejectFile: join(dir, 'rejects.ldif'),
      ...(viaRunMapStages ? { runMapStages: (st, input, signal) => runInWorkers(st, input, signal, { workers: 2, workerFile }) } : {}),
    });
  } catch (err) {
    t.type(err, LdapflowError, 'a LdapflowError');
    return err as LdapflowError;
  }
  t.fail('the run should have failed');
  throw new Error('unreachable');
}

t.test('a stage that throws in a worker ends the run with one error naming the stage, the DN and the line', async (t) => {
  const dir = t.testdir();
  const workerFile = testWorker(dir);
  const recs = (await inlineBatches(sample, [])).flatMap((b) => b.records);
  const victim = recs[157];
  const stages = [...(await realStages()), failingStage('boom', victim.dn)];
  // Raw chunks parsed in the workers: records sent back, or written as LDIF text or text entries (then a chunk is
  // parsed, changed and written a 64 KiB piece at a time, worker.ts streamChunk, and a failure goes back to the whole
  // chunk to name its record).
  for (const format of [undefined, ...TEXT_FORMATS]) {
    const tag = format ? (format.refs ? 'text entries' : 'LDIF text') : 'records';
    const e1 = await runToError(t, readLdifInWorkers({ input: sample, stages, workers: 2, batchSize: 40, workerFile, ...(format ? { format } : {}) }), [], workerFile, false);
    t.equal(e1.code, 'WORKER_STAGE_FAILED', tag);
    t.equal(e1.dn, victim.dn, `${tag}: names the DN`);
    t.equal(e1.line, victim.origin!.line, `${tag}: names the line the record starts on`);
    t.equal(e1.file, sample);
    t.match(e1.message, /stage "boom" failed: cannot read properties of undefined/);
  }
  // Parsed batches through run({ runMapStages }).
  const e2 = await runToError(t, readLdif({ input: sample, batchSize: 40 }), [failingStage('boom', victim.dn)], workerFile, true);
  t.equal(e2.code, 'WORKER_STAGE_FAILED');
  t.equal(e2.dn, victim.dn);
  t.equal(e2.line, victim.origin!.line);
});

t.test('workers that write text as they read: explained entries, rejects and counts come out as from the whole chunk', async (t) => {
  // The workers parse, change and write a chunk a 64 KiB piece at a time when they write the text (worker.ts
  // streamChunk). Notes for explained entries (several per entry, from both stages), rejects and counts, as the inline
  // stages and the workers that parse the whole chunk give them; chunks of ~450 KB, so several pieces each.
  const dir = t.testdir();
  const gen = join(dir, 'gen.ldif');
  await generate({ entries: 3000, out: gen, seed: 7, outOfOrder: 0.05 });
  // With a record the reader rejects every 50, so a chunk has rejects from reading after ones from the stages.
  const parts = readFileSync(gen, 'latin1').split('\n\n');
  writeFileSync(gen, parts.map((p, i) => (i % 50 === 49 ? `dn: cn=bad${i},dc=example,dc=com\nno colon here\n\n${p}` : p)).join('\n\n'), 'latin1');
  const schema = await loadSchemas([]);
  const explain = (await inlineBatches(gen, [])).flatMap((b) => b.records).filter((_, i) => i % 7 === 3).map((r) => r.dn);
  const explaining = [categorize({ schema }), fixSchema({ schema, preset: await loadPreset('oid-to-oud'), explain })];
  const want = await inlineBatches(gen, explaining, 250);
  const wantNotes = want.flatMap((b) => b.notes ?? []).map((n) => `${n.dn} ${n.stage} ${n.code} ${n.message}`);
  t.ok(wantNotes.length > explain.length, `${wantNotes.length} notes for ${explain.length} explained entries`);
  const kinds = new Set(want.flatMap((b) => b.rejects.map((r) => r.code)));
  t.ok(kinds.has('LDIF_MISSING_COLON') && kinds.has('PRESET_EXCLUDED'), `rejects from reading and from the stages (${[...kinds].join(', ')})`);
  for (const format of TEXT_FORMATS) {
    const tag = format.refs ? 'text entries' : 'LDIF text';
    const got = await collect(readLdifInWorkers({ input: gen, stages: explaining, workers: 2, batchSize: 250, format }));
    t.same(got.flatMap((b) => b.notes ?? []).map((n) => `${n.dn} ${n.stage} ${n.code} ${n.message}`), wantNotes, `${tag}: the same notes in the same order`);
    // Rejects: each batch's from reading, then each stage's, so their order follows where batches are cut; the
    // inline reader cuts by count, the workers by bytes. The same set, and per chunk the same order as below.
    t.same(got.flatMap((b) => b.rejects).map(describeReject).sort(), want.flatMap((b) => b.rejects).map(describeReject).sort(), `${tag}: the same rejects`);
    const total = (bs: Batch[]) => { const c: Record<string, number> = {}; for (const b of bs) for (const k in b.counts ?? {}) c[k] = (c[k] ?? 0) + b.counts![k]; return c; };
    t.same(total(got), total(want), `${tag}: the same counts`);
    // Per chunk, against the workers that do not write text (they parse the whole chunk, then run the stages).
    const whole = await collect(readLdifInWorkers({ input: gen, stages: explaining, workers: 2, batchSize: 250 }));
    t.equal(got.length, whole.length, `${tag}: as many chunks (${got.length})`);
    t.same(got.map((b) => JSON.stringify(b.counts ?? {})), whole.map((b) => JSON.stringify(b.counts ?? {})), `${tag}: each chunk's counts, in the same order`);
    t.same(got.map((b) => (b.notes ?? []).length), whole.map((b) => (b.notes ?? []).length), `${tag}: each chunk's notes`);
    t.same(got.map((b) => b.rejects.map((r) => r.dn).join('|')), whole.map((b) => b.rejects.map((r) => r.dn).join('|')), `${tag}: each chunk's rejects`);
  }
});

t.test('a worker thread that dies ends the run with one error, not a hang', async (t) => {
  const dir = t.testdir();
  const workerFile = testWorker(dir);
  const recs = (await inlineBatches(sample, [])).flatMap((b) => b.records);
  const victim = recs[200];
  const e1 = await runToError(t, readLdifInWorkers({ input: sample, stages: [failingStage('die', victim.dn)], workers: 2, batchSize: 40, workerFile }), [], workerFile, false);
  t.equal(e1.code, 'WORKER_FAILED');
  t.match(e1.message, /worker thread failed while processing .*oid-export\.ldif from line \d+/);
  const e2 = await runToError(t, readLdif({ input: sample, batchSize: 40 }), [failingStage('die', victim.dn)], workerFile, true);
  t.equal(e2.code, 'WORKER_FAILED');
  t.ok(e2.dn, 'names the first DN of the batch');
});

t.test('fatal input damage found in a worker is reported at the line the inline reader reports', async (t) => {
  const dir = t.testdir();
  const lines = readFileSync(sample, 'latin1').split('\n');
  lines[2500] = lines[2500] + '\0';
  const bad = join(dir, 'nul.ldif');
  writeFileSync(bad, lines.join('\n'), 'latin1');
  let inline: LdapflowError | undefined;
  try { await collect(readLdif({ input: bad })); } catch (err) { inline = err as LdapflowError; }
  t.equal(inline?.code, 'LDIF_NOT_TEXT');
  for (const format of [undefined, ...TEXT_FORMATS]) {
    const tag = format ? (format.refs ? 'text entries' : 'LDIF text') : 'records';
    let pooled: LdapflowError | undefined;
    const seen: number[] = [];
    try {
      for await (const b of readLdifInWorkers({ input: bad, stages: await realStages(), workers: 2, batchSize: 30, ...(format ? { format } : {}) }).batches(new AbortController().signal)) seen.push(b.seq);
    } catch (err) { pooled = err as LdapflowError; }
    t.equal(pooled?.code, 'LDIF_NOT_TEXT', tag);
    t.equal(pooled?.line, inline?.line, `${tag}: same line (${inline?.line})`);
    t.ok(seen.length > 0, `${tag}: the chunks before the damage were delivered first`);
  }
});

t.test('abort stops the source and releases the pool', async (t) => {
  const ac = new AbortController();
  let n = 0;
  for await (const b of readLdifInWorkers({ input: sample, stages: await realStages(), workers: 2, batchSize: 20 }).batches(ac.signal)) {
    n += b.records.length;
    if (b.seq === 2) ac.abort();
  }
  t.ok(n > 0 && n < 300, `stopped early after ${n} records`);
});

t.test('options are checked', async (t) => {
  t.throws(() => readLdifInWorkers({ input: sample, stages: [], workers: 0 }), { code: 'OPTION_INVALID' });
  t.throws(() => readLdifInWorkers({ input: '', stages: [], workers: 1 }), { code: 'OPTION_INVALID' });
  t.throws(() => readLdifInWorkers({ input: sample, stages: [{ kind: 'map', name: 'x', fn: (b) => b }], workers: 1 }), { code: 'OPTION_INVALID' });
  t.throws(() => runInWorkers([], (async function* () {})(), new AbortController().signal, { workers: 1, workerFile: '/nonexistent/worker.js' }), { code: 'WORKER_MODULE_MISSING' });
});

t.test('batch boundaries with workers are the same in every run of the same input (a resumed run skips by them)', async (t) => {
  const dir = t.testdir();
  const input = join(dir, 'gen.ldif');
  await generate({ entries: 6000, out: input, seed: 11, outOfOrder: 0.05 });
  const sizes = async (workers: number, queueDepth: number) =>
    (await collect(readLdifInWorkers({ input, stages: await realStages(), workers, queueDepth, batchSize: 100 }))).map((b) => b.records.length + b.rejects.length);
  const a = await sizes(1, 1);
  t.ok(a.length > 20, `${a.length} batches`);
  // Results come back at different times with 1 worker and a short queue than with 2 and a long one; the cuts must not.
  t.same(await sizes(2, 4), a, '2 workers, deeper queue: the same batch sizes');
  t.same(await sizes(1, 1), a, 'again: the same batch sizes');
});

t.test('workers that write the LDIF text: each batch carries exactly the text of its records, in order', async (t) => {
  const dir = t.testdir();
  const [lf, crlf] = mixedFiles(dir);
  const changes = join(root, 'samples', 'changes.ldif');
  for (const [file, stages] of [[lf, []], [crlf, await realStages()], [changes, []]] as Array<[string, MapStage[]]>) {
    const want = await inlineBatches(file, stages, 1000);
    const wantRecords = want.flatMap((b) => b.records);
    for (const [batchSize, wrap] of [[7, 76], [100, 0], [100, 40]]) {
      const tag = `${file.slice(dir.length + 1) || file}, ${stages.length} stages, batches of ${batchSize}, wrap ${wrap}`;
      const batches = await collect(readLdifInWorkers({ input: file, stages, workers: 2, batchSize, format: { wrap } }));
      t.ok(batches.length >= Math.min(2, Math.ceil(wantRecords.length / batchSize)) && batches.every((b) => b.ldif instanceof Uint8Array), `${tag}: every batch has its text (${batches.length} batches)`);
      t.same(batches.flatMap((b) => b.rejects).map(describeReject), want.flatMap((b) => b.rejects).map(describeReject), `${tag}: the same rejects`);
      let k = 0;
      let bad = 0;
      for (const b of batches) {
        const recs = wantRecords.slice(k, k + b.records.length);
        k += b.records.length;
        const text = recs.map((r) => formatRecord(r, { wrap })).join('\n');
        if (Buffer.from(b.ldif!).toString('utf8') !== text) bad++;
        // What a resumed run does with the first batch it must partly skip.
        const cut = Math.floor(recs.length / 2);
        if (Buffer.from(dropFormattedRecords(b.ldif!, cut)).toString('utf8') !== recs.slice(cut).map((r) => formatRecord(r, { wrap })).join('\n')) bad++;
      }
      t.equal(k, wantRecords.length, `${tag}: ${k} records counted`);
      t.equal(bad, 0, `${tag}: every batch's text (and its text without its first half) is what the writer makes of its records`);
    }
  }
});

t.test('the CLI: --passthrough and no ordering let the workers write; output equals inline byte for byte', async (t) => {
  const dir = t.testdir();
  const [lf] = mixedFiles(dir);
  const big = join(dir, 'gen5k.ldif');
  await generate({ entries: 5000, out: big, seed: 5, outOfOrder: 0.05 });
  const passthrough: Partial<CliRunOptions> = { passthrough: true, preset: undefined, fixSchema: false, categorize: false, order: false };
  // The plan: no stage is left on the main thread and the source's batches carry text.
  const built = await buildRun(lf, join(dir, 'plan.ldif'), cliOptions(2, passthrough));
  t.same(built.runOptions.stages, [], 'no stage left on the main thread');
  const planned = await collect(built.runOptions.source);
  t.ok(planned.length > 0 && planned.every((b) => b.ldif !== undefined), 'the batches are written by the workers');
  await built.close?.();
  await sameAsInline(t, dir, sample, 'sample-pass', passthrough);
  const m = await sameAsInline(t, dir, lf, 'mixed-pass', passthrough);
  t.ok(m.summary.rejected > 0, `the bad records are rejected alike (${m.summary.rejected})`);
  // Gzipped input goes through the stream reader instead of the reused-buffer one.
  const gz = join(dir, 'mixed.ldif.gz');
  writeFileSync(gz, gzipSync(readFileSync(lf)));
  const z = await sameAsInline(t, dir, gz, 'mixed-gz-pass', passthrough, [2]);
  t.ok(z.ldif.equals(m.ldif), 'gzipped input: the same output as the plain file');
  await sameAsInline(t, dir, big, 'gen5k-pass-wrap0', { ...passthrough, wrap: 0 }, [2]);
  await sameAsInline(t, dir, big, 'gen5k-pass', passthrough, [1, 2]);
});

t.test('batches written as text reach only a sink that takes them', async (t) => {
  const dir = t.testdir();
  const err = await run({
    source: readLdifInWorkers({ input: sample, stages: [], workers: 1, format: { wrap: 76 } }),
    stages: [],
    sink: writeSplitLdif({ dir }),
    rejectFile: join(dir, 'rejects.ldif'),
  }).then(() => undefined, (e: unknown) => e);
  t.match(err, { code: 'RUN_BAD_PLAN' }, 'one clear error, nothing written as the wrong thing');
});

t.test('text from the workers to a caller\'s stream that keeps the chunks: the stream gets copies', async (t) => {
  const dir = t.testdir();
  const input = join(dir, 'gen.ldif');
  await generate({ entries: 3000, out: input, seed: 13, outOfOrder: 0.05 });
  // Nobody reads until the end: the PassThrough keeps every chunk it was given (a shared buffer reused after its
  // write callback would show up as later records written over earlier ones).
  const keep = new PassThrough({ highWaterMark: 1 << 28 });
  await run({
    source: readLdifInWorkers({ input, stages: [], workers: 2, batchSize: 50, format: { wrap: 76 } }),
    stages: [],
    sink: writeLdif({ output: 'kept', stream: keep }),
    rejectFile: join(dir, 'rejects.ldif'),
  });
  const chunks: Buffer[] = [];
  for (let c = keep.read(); c !== null; c = keep.read()) chunks.push(c as Buffer);
  await run({ source: readLdif({ input }), stages: [], sink: writeLdif({ output: join(dir, 'inline.ldif') }), rejectFile: join(dir, 'rejects2.ldif') });
  const want = readFileSync(join(dir, 'inline.ldif'));
  const got = Buffer.concat(chunks);
  t.ok(got.length > 1e6 && got.equals(want), `what the stream kept equals the inline output (${got.length} bytes)`);
});

t.test('the library entry point: the README\'s worker example copies a file as the inline run does', async (t) => {
  const lib = await import('../../src/index.js');
  const dir = t.testdir();
  const copy = join(dir, 'copy.ldif');
  const s = await lib.run({ source: lib.readLdifInWorkers({ input: sample, stages: [], workers: Math.max(1, lib.defaultWorkers(true)), format: { wrap: 76 } }),
    stages: [], sink: lib.writeLdif({ output: copy }), rejectFile: join(dir, 'r1.ldif') });
  const inline = join(dir, 'inline.ldif');
  await lib.run({ source: lib.readLdif({ input: sample }), stages: [], sink: lib.writeLdif({ output: inline }), rejectFile: join(dir, 'r2.ldif') });
  t.equal(s.written, 300, 'every sample entry written');
  t.ok(readFileSync(copy).equals(readFileSync(inline)), 'byte for byte the inline output');
});
