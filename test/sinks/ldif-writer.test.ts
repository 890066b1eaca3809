/**
 * src/sinks/ldif-format.ts and src/sinks/ldif-file.ts: base64 where RFC 2849 requires or recommends it, folding at 76
 * columns (never splitting a UTF-8 character), attribute and value order, change records written and read back the same,
 * FILE.partial renamed on close, stdout-like streams, backpressure from a slow writable.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { formatAttr, formatComment, formatRecord, fold, foldComment } from '../../src/sinks/ldif-format.js';
import { writeLdif } from '../../src/sinks/ldif-file.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';
import { makeEntry, type Batch, type LdifRecord, type Value } from '../../src/entry.js';
import type { SinkContext } from '../../src/stage.js';

const vb = (v: Value) => (typeof v === 'string' ? 's:' + v : 'b:' + Buffer.from(v).toString('hex'));
/** A comparable form of records: what a reader gets back, values typed and exact. */
function comparable(recs: LdifRecord[]): unknown {
  return recs.map((r) => {
    const base = { dn: r.dn, kind: r.kind, controls: (r.controls ?? []).map((c) => [c.oid, c.criticality, c.value === null ? null : vb(c.value)]) };
    if ('attrs' in r) return { ...base, ct: r.kind === 'change' ? r.changetype : undefined, attrs: [...r.attrs.values()].map((a) => [a.name, a.values.map(vb)]) };
    if (r.changetype === 'modify') return { ...base, ct: 'modify', mods: r.mods.map((m) => [m.op, m.name, m.values.map(vb)]) };
    if (r.changetype === 'delete') return { ...base, ct: 'delete' };
    return { ...base, ct: r.changetype, newrdn: r.newrdn, del: r.deleteoldrdn, sup: r.newsuperior };
  });
}
const reread = (text: string) => parseLdifText(text);

t.test('base64 exactly where RFC 2849 requires or recommends it', async (t) => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const cases: Array<[string, boolean]> = [
    ['plain value', false],
    ['inner  spaces and : colons < and > signs', false],
    ['ends with colon:', false],
    ['#hash at start is fine', false],
    ['-', false],
    ['', false],
    [' leading space', true],
    [':leading colon', true],
    ['<leading less-than', true],
    ['trailing space ', true],
    ['Pérola', true],
    ['営業部', true],
    ['line\nbreak', true],
    ['carriage\rreturn', true],
    ['tab\there', true],
    ['nul\u0000byte', true],
    ['del\u007fchar', true],
    [' ', true],
  ];
  for (const [v, wantB64] of cases) {
    const line = formatAttr('description', v);
    if (wantB64) t.equal(line, `description:: ${b64(v)}`, `${JSON.stringify(v)} -> base64`);
    else t.equal(line, v === '' ? 'description:' : `description: ${v}`, `${JSON.stringify(v)} -> plain`);
    const back = reread(`dn: cn=x\n${line}\n`);
    t.same(back.records[0] && 'attrs' in back.records[0] ? back.records[0].attrs.get('description')!.values : null, [v], `${JSON.stringify(v)} reads back the same`);
  }
  const bin = Uint8Array.from([0xff, 0x00, 0x80, 0x41]);
  t.equal(formatAttr('jpegPhoto', bin), 'jpegPhoto:: /wCAQQ==', 'binary is always base64');
  // DNs follow the same rules.
  t.equal(formatRecord(makeEntry('cn=Pérola,dc=x')), `dn:: ${b64('cn=Pérola,dc=x')}\n`);
  t.equal(formatRecord(makeEntry(' cn=x')), `dn:: ${b64(' cn=x')}\n`);
  t.equal(formatRecord(makeEntry('')), 'dn:\n', 'the empty DN');
});

t.test('folding at 76 columns', async (t) => {
  const long = 'x'.repeat(300);
  const text = formatAttr('description', long);
  const lines = text.split('\n');
  t.ok(lines.every((l) => l.length <= 76), 'no line longer than 76');
  t.equal(lines[0].length, 76);
  t.ok(lines.slice(1).every((l) => l.startsWith(' ')), 'continuation lines start with one space');
  t.same(reread(`dn: cn=x\n${text}\n`).records[0] && (reread(`dn: cn=x\n${text}\n`).records[0] as any).attrs.get('description').values, [long]);
  t.equal(formatAttr('description', 'x'.repeat(63)).length, 76, 'a line of exactly 76 is not folded');
  t.equal(formatAttr('description', 'x'.repeat(64)).split('\n').length, 2, 'a line of 77 is');
  t.equal(formatAttr('description', long, 0), 'description: ' + long, 'wrap 0: never fold');
  t.equal(fold('abcdefghij', 4), 'abcd\n efg\n hij');
  // A long run of spaces must not make a continuation line of only spaces (read as a blank line: the record would end).
  const spaces = 'a' + ' '.repeat(200) + 'b';
  const sp = formatAttr('description', spaces);
  t.notOk(sp.split('\n').some((l) => l.trim() === ''), 'no all-space line');
  const back = reread(`dn: cn=x\n${sp}\ncn: x\n`);
  t.equal(back.rejects.length, 0);
  t.same((back.records[0] as any).attrs.get('description').values, [spaces]);
  // Long base64 of non-ASCII text and binary: folded, ASCII only, read back byte for byte.
  const utf = 'Pérola Ñandú 営業部 😀 '.repeat(20).trim();
  const bin = randomBytes(1000);
  bin[0] = 0xff;
  for (const v of [utf, bin]) {
    const l = formatAttr('x', v);
    t.ok(l.split('\n').every((s) => s.length <= 76 && /^[\x20-\x7e]*$/.test(s)), 'ASCII lines of at most 76');
    t.same(comparable(reread(`dn: cn=x\n${l}\n`).records), comparable([makeEntry('cn=x', [['x', v]])]));
  }
});

t.test('comments fold at 76 bytes without splitting a UTF-8 character', async (t) => {
  for (const ch of ['é', '営', '😀']) {
    const text = ch.repeat(200);
    const folded = foldComment('# ' + text);
    const lines = folded.split('\n');
    t.ok(lines.every((l) => Buffer.byteLength(l) <= 76), `${ch}: at most 76 bytes a line`);
    t.ok(lines.every((l) => !l.includes('\ufffd')), `${ch}: no broken character`);
    t.equal(lines.map((l, i) => (i ? l.slice(1) : l)).join(''), '# ' + text, `${ch}: the text re-joins`);
    // A folded comment inside LDIF is skipped whole by the reader.
    const back = reread(`${formatComment(text)}dn: cn=x\n${formatComment(text)}cn: x\n`);
    t.equal(back.rejects.length, 0);
    t.same(comparable(back.records), comparable([makeEntry('cn=x', [['cn', 'x']])]));
  }
  t.equal(foldComment('# line one\nline two'), '# line one line two', 'newlines in a comment never end it');
});

t.test('attribute order, value order and spelling are kept', async (t) => {
  const e = makeEntry('cn=o,dc=x', [
    ['objectClass', ['top', 'person', 'inetOrgPerson']], ['sn', 'Z'], ['cn;lang-pt', 'Óscar'], ['CN', ['b', 'a', 'c']], ['mail', 'm'],
    ['2.5.4.13', 'by oid'], ['userCertificate;binary', Uint8Array.from([0x30, 0x82, 0xff])],
  ]);
  const text = formatRecord(e);
  t.equal(text.split('\n')[0], 'dn: cn=o,dc=x');
  t.same(text.split('\n').slice(1, -1).map((l) => l.slice(0, l.indexOf(':'))),
    ['objectClass', 'objectClass', 'objectClass', 'sn', 'cn;lang-pt', 'CN', 'CN', 'CN', 'mail', '2.5.4.13', 'userCertificate;binary']);
  t.same(comparable(reread(text).records), comparable([e]));
});

t.test('every change record kind is written and read back identically', async (t) => {
  const src = 'version: 1\n\n' +
    'dn: cn=a,dc=x\nchangetype: add\nobjectClass: person\ncn: a\nsn:: UMOpcm9sYQ==\njpegPhoto:: /9j/4AAQ\n\n' +
    'dn: cn=a,dc=x\ncontrol: 1.2.840.113556.1.4.805 true\nchangetype: delete\n\n' +
    'dn: cn=a,dc=x\ncontrol: 1.2.3.4 false: plain value\ncontrol: 1.2.3.5 true:: AP8=\ncontrol: 1.2.3.6 true\ncontrol: 1.2.3.7 false:: IGxlYWRpbmc=\nchangetype: modify\n' +
    'add: mail\nmail: a@x\nmail: b@x\n-\ndelete: phone\n-\ndelete: fax\nfax: 1\n-\nreplace: title\ntitle:: w4lsZQ==\n-\nreplace: empty\n-\n' +
    'increment: uidNumber\nuidNumber: 5\n-\n\n' +
    'dn: cn=a,dc=x\nchangetype: modrdn\nnewrdn: cn=b\ndeleteoldrdn: 0\n\n' +
    'dn: cn=b,dc=x\nchangetype: moddn\nnewrdn:: Y249UMOpcm9sYQ==\ndeleteoldrdn: 1\nnewsuperior:: b3U9w6lxdWlwZSxkYz14\n\n' +
    'dn:: Y249UMOpcm9sYSxkYz14\nchangetype: modrdn\nnewrdn: cn=c\ndeleteoldrdn: 1\nnewsuperior: dc=y\n';
  const first = parseLdifText(src);
  t.equal(first.rejects.length, 0, JSON.stringify(first.rejects));
  t.equal(first.records.length, 6);
  const written = first.records.map((r) => formatRecord(r)).join('\n');
  const second = reread(written);
  t.equal(second.rejects.length, 0, JSON.stringify(second.rejects));
  t.same(comparable(second.records), comparable(first.records), 'read, write, read: the same records');
  t.equal(second.records.map((r) => formatRecord(r)).join('\n'), written, 'and writing again gives the same text');
  t.match(written, /^control: 1\.2\.3\.7 false:: IGxlYWRpbmc=$/m, 'a control value with a leading space is base64');
  t.match(written, /^changetype: moddn$/m, 'moddn keeps its spelling');
});

function ctxFor(acks: Array<[number, number]>): SinkContext {
  return { reject: () => {}, acknowledge: (s, n) => acks.push([s, n]), count: () => {}, signal: new AbortController().signal };
}
const batchOf = (seq: number, records: LdifRecord[]): Batch => ({ seq, records, rejects: [] });

t.test('writeLdif: FILE.partial while writing, renamed on close; abort keeps the .partial with whole records', async (t) => {
  const dir = t.testdir({});
  const out = join(dir, 'out.ldif');
  const sink = writeLdif({ output: out });
  const acks: Array<[number, number]> = [];
  await sink.open(ctxFor(acks));
  t.ok(existsSync(out + '.partial'), 'the .partial exists while writing');
  t.notOk(existsSync(out), 'FILE does not exist before the run completes');
  const recs = Array.from({ length: 2500 }, (_, i) => makeEntry(`cn=u${i},dc=x`, [['cn', `u${i}`], ['description', 'Pérola '.repeat(i % 20)]]));
  await sink.write(batchOf(0, recs.slice(0, 1000)));
  await sink.write(batchOf(1, recs.slice(1000)));
  t.same(acks, [[0, 1000], [1, 1500]], 'each batch acknowledged with its count');
  await sink.close();
  t.ok(existsSync(out), 'renamed on close');
  t.notOk(existsSync(out + '.partial'));
  const text = readFileSync(out, 'utf8');
  t.ok(text.startsWith('version: 1\n\ndn: cn=u0,dc=x\n'), 'version line, then records separated by blank lines');
  t.same(comparable(reread(text).records), comparable(recs));
  t.equal(sink.bytesWritten(), Buffer.byteLength(text));

  const out2 = join(dir, 'aborted.ldif');
  const s2 = writeLdif({ output: out2 });
  await s2.open(ctxFor([]));
  await s2.write(batchOf(0, recs.slice(0, 10)));
  await s2.abort();
  t.notOk(existsSync(out2), 'an aborted run leaves no FILE');
  const partial = reread(readFileSync(out2 + '.partial', 'utf8'));
  t.equal(partial.rejects.length, 0, 'the .partial holds whole records');
  t.same(comparable(partial.records), comparable(recs.slice(0, 10)));

  const empty = join(dir, 'empty.ldif');
  const s3 = writeLdif({ output: empty });
  await s3.open(ctxFor([]));
  await s3.close();
  t.equal(readFileSync(empty, 'utf8'), 'version: 1\n', 'no records: a valid empty LDIF file');

  await t.rejects(async () => { const s = writeLdif({ output: join(dir, 'no-such-dir', 'x.ldif') }); await s.open(ctxFor([])); }, { code: 'LDIF_OPEN_FAILED' });
  t.throws(() => writeLdif({ output: '' }), { code: 'OPTION_INVALID' });
});

t.test('writeLdif to a stream: wrap option, no version line, backpressure from a slow writer', async (t) => {
  const recs = Array.from({ length: 3000 }, (_, i) => makeEntry(`cn=u${i},dc=x`, [['description', 'y'.repeat(200)]]));
  let written = '';
  let pending = 0;
  let maxPending = 0;
  const slow = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk, _enc, cb) {
      pending++;
      maxPending = Math.max(maxPending, pending);
      written += chunk.toString();
      setTimeout(() => { pending--; cb(); }, 2);
    },
  });
  const sink = writeLdif({ output: 'stream', stream: slow, wrap: 0, version: false });
  await sink.open(ctxFor([]));
  for (let i = 0; i < 30; i++) {
    await sink.write(batchOf(i, recs.slice(i * 100, i * 100 + 100)));
    t.ok(slow.writableLength <= slow.writableHighWaterMark + 100 * 300, `batch ${i}: write() resolved only when the stream had room (${slow.writableLength} bytes buffered)`);
  }
  await sink.close();
  t.notOk(written.startsWith('version'), 'version: false');
  t.ok(written.split('\n').every((l) => l.length < 250 && !l.startsWith(' ')), 'wrap 0: no folding');
  t.same(comparable(reread(written).records), comparable(recs));
});

t.test('formatRecord and formatRecordsToBuffer write each line as formatAttr does, folded or not, at any wrap', async (t) => {
  // The record writers push folded lines as pieces; formatAttr builds the line, folds it, then checks it.
  const { formatRecordsToBuffer } = await import('../../src/sinks/ldif-format.js');
  const values: Value[] = [
    '', 'x', 'x'.repeat(62), 'x'.repeat(63), 'x'.repeat(64), 'y'.repeat(500), 'Pérola'.repeat(30), ' lead', 'trail ', ':x', '<x',
    'a' + ' '.repeat(200) + 'b', 'x'.repeat(62) + ' '.repeat(75) + 'z', 'x'.repeat(61) + ' '.repeat(75) + 'z', 'ab' + ' '.repeat(74) + 'c',
    randomBytes(300), new Uint8Array([1, 2, 3]),
  ];
  const names = ['description', 'x', 'a'.repeat(80), 'cn;lang-en'];
  for (const wrap of [76, 0, 2, 3, 10, 77]) {
    for (const name of names) {
      const rec = makeEntry('cn=x', values.map((v) => [name, v] as [string, Value]));
      const want = formatAttr('dn', 'cn=x', wrap) + '\n' + values.map((v) => formatAttr(name, v, wrap) + '\n').join('');
      t.equal(formatRecord(rec, { wrap }), want, `${name.slice(0, 12)}, wrap ${wrap}`);
      const { buf, len } = formatRecordsToBuffer([rec, rec], wrap);
      t.equal(buf.toString('utf8', 0, len), want + '\n' + want);
    }
  }
});

t.test('writeLdif hands text entries on in place, with formatted records between them, and fails cleanly', async (t) => {
  const { encodeTextRecords, decodeTextRecords } = await import('../../src/transforms/text-record.js');
  const { formatRecordsToBuffer, formatRecordsToBuffers } = await import('../../src/sinks/ldif-format.js');
  const recs = Array.from({ length: 900 }, (_, i) => makeEntry(`cn=u${i},dc=x`, [['cn', `u${i}`], ['description', 'Pérola '.repeat(i % 30)]]));
  // Three worker batches of text entries, shuffled into output batches with plain records and a change record.
  const texts: LdifRecord[] = [];
  for (let k = 0; k < 3; k++) {
    const { wire, buf, len } = encodeTextRecords(recs.slice(k * 300, k * 300 + 300), 76, ['member']);
    texts.push(...decodeTextRecords(wire, Buffer.from(buf.subarray(0, len)), 76, 'in.ldif', 0, 0));
  }
  const out: LdifRecord[] = [];
  for (let i = 0; i < 900; i++) {
    out.push(texts[(i * 7) % 900]);
    if (i % 50 === 0) out.push(makeEntry(`cn=plain${i},dc=x`, [['cn', `plain${i}`]]));
    if (i % 120 === 0) out.push({ kind: 'change', changetype: 'modify', dn: `cn=u${i},dc=x`, mods: [{ op: 'replace', name: 'sn', values: ['x'] }] });
  }
  t.ok(formatRecordsToBuffers(out.slice(0, 200)).length > 2, 'a batch is several pieces: text in place and formatted text');
  const dir = t.testdir({});
  const file = join(dir, 'out.ldif');
  const sink = writeLdif({ output: file });
  await sink.open(ctxFor([]));
  for (let i = 0, seq = 0; i < out.length; i += 200) await sink.write(batchOf(seq++, out.slice(i, i + 200)));
  await sink.close();
  const expect = 'version: 1\n\n' + formatRecordsToBuffer(out).buf.toString();
  const got = readFileSync(file, 'utf8');
  t.equal(got, expect, 'the same bytes as one buffer of all records');
  t.equal(sink.bytesWritten(), Buffer.byteLength(expect), 'bytes counted as handed over (checkpoints rely on it)');
  // A stream that fails: the write rejects with one readable error, not an unhandled rejection.
  const broken = new Writable({ write(_c, _e, cb) { cb(new Error('disk on fire')); } });
  const s2 = writeLdif({ output: 'stream', stream: broken });
  await s2.open(ctxFor([]));
  await t.rejects(async () => { for (let i = 0; i < 5; i++) await s2.write(batchOf(i, out.slice(0, 200))); }, { code: 'LDIF_WRITE_FAILED' });
});

t.test('writeLdif: the next batch is made while one is written, and at most two batches wait on a slow stream', async (t) => {
  // A stream that calls back only when the test says so: what it took, and the callbacks it holds.
  const took: Buffer[] = [];
  const held: Array<{ len: number; cb: () => void }> = [];
  let doneBytes = 0; // bytes the stream has called back for
  let auto = false;
  const slow = new Writable({
    highWaterMark: 1024,
    write(c: Buffer, _e, cb) {
      took.push(Buffer.from(c));
      if (auto) { doneBytes += c.length; cb(); } else held.push({ len: c.length, cb: () => cb() });
    },
  });
  const sink = writeLdif({ output: 'slow', stream: slow });
  await sink.open(ctxFor([]));
  const batch = (seq: number) => batchOf(seq, Array.from({ length: 20 }, (_, i) => makeEntry(`cn=b${seq}u${i},dc=x`, [['cn', `b${seq}u${i}`], ['description', 'x'.repeat(300)]])));
  const text = (seq: number) => batch(seq).records.map((r) => formatRecord(r)).join('\n');
  const state = (p: Promise<void>) => {
    let s = 'pending';
    p.then(() => { s = 'resolved'; }, () => { s = 'rejected'; });
    return () => s;
  };
  const ticks = async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };
  /** Let the stream finish one chunk at a time until `p` resolves; the bytes it had finished then. */
  const releaseUntil = async (p: () => string): Promise<number> => {
    await ticks();
    while (p() === 'pending' && held.length) {
      const h = held.shift()!;
      doneBytes += h.len;
      h.cb();
      await ticks();
    }
    return doneBytes;
  };
  const head = 'version: 1\n\n'.length;
  const b0 = Buffer.byteLength(text(0));
  const b1 = Buffer.byteLength(text(1));
  t.ok(b0 > 4 * 1024, 'a batch is several times the stream\'s high-water mark');

  const p0 = state(sink.write(batch(0)));
  await ticks();
  t.equal(p0(), 'pending', 'batch 0 waits while the header before it is with the stream');
  let at = await releaseUntil(p0);
  t.equal(p0(), 'resolved', 'batch 0 resolves...');
  t.ok(at >= head && at < head + b0, `...once what came before it is written, while it is still being written (${at} of ${head + b0} bytes)`);
  const p1 = state(sink.write(batch(1)));
  await ticks();
  t.equal(p1(), 'pending', 'batch 1 waits while batch 0 is being written: at most two batches wait on the stream');
  t.ok(slow.writableLength > b0 - (at - head), 'batch 1 is queued on the stream behind what is left of batch 0');
  at = await releaseUntil(p1);
  t.equal(p1(), 'resolved', 'batch 1 resolves...');
  t.ok(at >= head + b0 && at < head + b0 + 1 + b1, `...once batch 0 is written, while it is still being written itself (${at} of ${head + b0 + 1 + b1} bytes)`);
  auto = true;
  while (held.length) { const h = held.shift()!; doneBytes += h.len; h.cb(); }
  await sink.close();
  t.equal(Buffer.concat(took).toString(), 'version: 1\n\n' + text(0) + '\n' + text(1), 'the stream got the header and both batches, in order');

  // The stream fails on the last batch after write() let it go: close fails, with the readable error.
  let n = 0;
  const failing = new Writable({ highWaterMark: 1024, write(c: Buffer, _e, cb) { n += c.length; setImmediate(() => cb(n > head ? new Error('disk on fire') : null)); } });
  const s2 = writeLdif({ output: 'failing', stream: failing });
  await s2.open(ctxFor([]));
  await s2.write(batch(0));
  await t.rejects(s2.close(), { code: 'LDIF_WRITE_FAILED', message: /disk on fire/ }, 'a write that fails after its batch was let go fails the close');
});
