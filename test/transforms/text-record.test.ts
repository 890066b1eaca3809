/**
 * Text entries (src/transforms/text-record.ts): the wire form between a worker and the ordering stage. What comes out
 * of encode + decode must be the records that went in: the same text as the writer makes, the same fields, the same
 * reference values and targets, the same attributes when parsed back; records the form does not carry travel whole.
 */
import t from 'tap';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { heapEstimate, type Attribute, type Entry, type LdifRecord } from '../../src/entry.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';
import { formatRecord, formatRecordsToBuffer } from '../../src/sinks/ldif-format.js';
import { decodeTextRecords, encodeTextRecords, KEYS_PARENT, KEYS_ROOT, refAttr, refTarget, TextEntry } from '../../src/transforms/text-record.js';
import { normalizeDn, parentDn, plainDn } from '../../src/dn.js';
import { decodeRecord, encodeRecord } from '../../src/state/spill.js';
import { hash64 } from '../../src/strings.js';

const root = resolve(import.meta.dirname, '..', '..');
const REFS = ['member', 'uniquemember', 'manager', 'owner', 'seealso'];

/** A reference attribute as a stage reads it (refAttr): name and values (a text entry's come from its text). */
function refOf(r: Entry, key: string): Attribute | undefined {
  const a = refAttr(r, key);
  return a && { name: a.name, values: a.values };
}

/** Records with references of every kind, binary values, folded and base64 values, change records between them. */
function input(): LdifRecord[] {
  const text = [
    'dn: cn=Admins,ou=Groups,dc=example,dc=com',
    'objectClass: groupOfUniqueNames',
    'cn: Admins',
    "uniqueMember: uid=Alice,ou=People,dc=example,dc=com#'0101'B",
    'uniqueMember: UID=bob, OU=People,DC=example,DC=com',
    'uniqueMember: not a dn',
    'owner:: Y249Sm9zw6kgw4F2aWxhLG91PVBlb3BsZSxkYz1leGFtcGxlLGRjPWNvbQ==',
    'description: a long value that is folded over more than one line so that the text spans a continuation line',
    '',
    'dn:: Y249Sm9zw6kgw4F2aWxhLG91PVBlb3BsZSxkYz1leGFtcGxlLGRjPWNvbQ==',
    'objectClass: person',
    'cn:: Sm9zw6kgw4F2aWxh',
    'sn: Ávila',
    'manager: uid=alice,ou=people,dc=example,dc=com',
    'jpegPhoto:: /9j/4AAQSkZJRgABAQ==',
    '',
    'dn: uid=carol,ou=People,dc=example,dc=com',
    'changetype: modify',
    'replace: sn',
    'sn: C',
    '-',
    '',
    'dn: cn=binary ref,dc=example,dc=com',
    'objectClass: groupOfNames',
    'member:: /9j/4AAQSkZJRgABAQ==',
    '',
    'dn: uid=dave,ou=People,dc=example,dc=com',
    'objectClass: person',
    'cn: dave',
    'sn:',
    '',
    'dn: cn=Last,ou=Groups,dc=example,dc=com',
    'objectClass: groupOfNames',
    'cn: Last',
    'member: uid=someone with a rather long name that folds,ou=People,dc=example,dc=com',
    'member: uid=alice,ou=People,dc=example,dc=com',
    '',
  ].join('\n');
  const out = parseLdifText(text, { file: 'in.ldif' });
  t.equal(out.rejects.length, 0, 'the input parses');
  for (const r of out.records) if (r.kind === 'entry') r.category = r.dn.startsWith('cn=Admins') ? 'groups' : 'users';
  return out.records;
}

function fields(r: LdifRecord) {
  return { kind: r.kind, dn: r.dn, category: r.category, origin: r.origin };
}

t.test('encode + decode: text, fields, references and targets of each entry; the others whole, in place', async (t) => {
  for (const wrap of [76, 0, 40]) {
    const recs = input();
    const want = recs.map((r) => formatRecord(r, { wrap }));
    const wantFields = recs.map(fields);
    const heaps = recs.map((r) => (r.kind === 'entry' ? heapEstimate(r) : 0));
    const { wire, buf, len } = encodeTextRecords(recs, wrap, REFS);
    const got = decodeTextRecords(wire, buf.subarray(0, len), wrap, 'in.ldif', 100, 10);
    t.equal(got.length, recs.length, `wrap ${wrap}: as many records as went in`);
    for (let i = 0; i < got.length; i++) {
      const g = got[i];
      const binaryRef = recs[i].dn.startsWith('cn=binary');
      t.equal(g instanceof TextEntry, recs[i].kind === 'entry' && !binaryRef, `wrap ${wrap} #${i}: ${g instanceof TextEntry ? 'a text entry' : 'whole'}`);
      t.same({ ...fields(g), origin: { ...g.origin, line: g.origin!.line - 100, index: g.origin!.index - 10 } }, wantFields[i], `wrap ${wrap} #${i}: fields, origin shifted by the offsets`);
      if (!(g instanceof TextEntry)) continue;
      t.equal(g.buf!.toString('latin1', g.start, g.end), want[i], `wrap ${wrap} #${i}: its text is the writer's`);
      t.equal(g.heapBytes, heaps[i], `wrap ${wrap} #${i}: the heap estimate of the entry it was`);
      const orig = recs[i] as Entry;
      for (const key of REFS) {
        const a = orig.attrs.get(key);
        t.same(refOf(g, key), a, `wrap ${wrap} #${i}: ${key} values read from the text without parsing it`);
        if (!a) continue;
        const hashes: number[] = [];
        for (const v of a.values as string[]) {
          let target: string | undefined;
          try { target = refTarget(v); } catch { /* not a DN */ }
          if (target === undefined) { hashes.push(NaN, 0, 0, 0); continue; }
          hashes.push(...hash64(target), ...hash64(v.replace(/#'[01]*'B$/, '')));
        }
        t.same([...g.refHashes(key)!], hashes, `wrap ${wrap} #${i}: ${key} hashes of targets and spellings`);
      }
      // The DN's keys for the ordering stage: a plain DN's hashes and spelling, none for any other.
      const dn = recs[i].dn;
      const ndn = normalizeDn(dn);
      if (plainDn(dn, dn.length, false) < 0) t.equal(g.keys, undefined, `wrap ${wrap} #${i}: no DN keys for a DN that is not plain`);
      else {
        const k = g.keys!;
        let at = g.keysAt;
        const parent = parentDn(ndn);
        t.equal(k[at++], parent ? KEYS_PARENT : KEYS_ROOT, `wrap ${wrap} #${i}: DN keys with${parent ? '' : 'out'} a parent`);
        let spelled = ndn;
        for (let n = k[at++]; n > 0; n--, at += 2) spelled = spelled.slice(0, k[at]) + String.fromCharCode(k[at + 1]) + spelled.slice(k[at] + 1);
        t.equal(spelled, dn, `wrap ${wrap} #${i}: the differences from the normalized DN spell the DN`);
        const want = [...hash64(ndn), ...hash64(dn), ...(parent ? hash64(parent) : [])];
        t.same([...k.subarray(at, at + want.length)], want, `wrap ${wrap} #${i}: hashes of the DN, its spelling and its parent`);
      }
      t.ok(g.buf, 'not parsed yet');
      // Parsed back: the attributes the worker had (names, order, text and bytes), and the text is gone.
      const attrs = g.attrs;
      t.same([...attrs.entries()], [...orig.attrs.entries()], `wrap ${wrap} #${i}: parsed back, the same attributes`);
      t.equal(g.buf, undefined, 'its text is dropped once parsed');
      t.equal(formatRecord(g, { wrap }), want[i], `wrap ${wrap} #${i}: written from its attributes, the same text`);
    }
  }
});

t.test('the sink writes text entries as they are, and entries changed after decoding from their attributes', async (t) => {
  const recs = input();
  const want = formatRecordsToBuffer(input(), 76).buf.toString('latin1');
  const { wire, buf, len } = encodeTextRecords(recs, 76, REFS);
  const got = decodeTextRecords(wire, buf.subarray(0, len), 76, 'in.ldif', 0, 0);
  t.equal(formatRecordsToBuffer(got, 76).buf.toString('latin1'), want, 'all as text: the same bytes');
  // Out of order and with one changed: the ranges are not contiguous any more.
  const again = decodeTextRecords(wire, buf.subarray(0, len), 76, 'in.ldif', 0, 0);
  const mixed = [again[4], again[0], again[1], again[3], again[2]];
  (again[1] as Entry).attrs.get('sn')!.values = ['changed'];
  const plain = input();
  plain[1].kind === 'entry' && (plain[1].attrs.get('sn')!.values = ['changed']);
  const wantMixed = formatRecordsToBuffer([plain[4], plain[0], plain[1], plain[3], plain[2]], 76).buf.toString('latin1');
  t.equal(formatRecordsToBuffer(mixed, 76).buf.toString('latin1'), wantMixed, 'reordered, one changed: the same bytes as from plain records');
  t.match(wantMixed, /\nsn: changed\n/, 'the change is written');
});

t.test('text that is not all ASCII: every record travels whole', async (t) => {
  const e: Entry = { kind: 'entry', dn: 'cn=x,dc=com', attrs: new Map<string, Attribute>([['descrição', { name: 'descrição', values: ['v'] }]]) };
  const recs: LdifRecord[] = [...input(), e];
  const { wire, buf, len } = encodeTextRecords(recs, 76, REFS);
  const got = decodeTextRecords(wire, buf.subarray(0, len), 76, 'in.ldif', 0, 0);
  t.equal(got.filter((r) => r instanceof TextEntry).length, 0, 'no text entries');
  t.same(got.map((r) => formatRecord(r)), recs.map((r) => formatRecord(r)), 'the same records');
});

t.test('detach: the entry keeps its text when the batch memory is reused', async (t) => {
  const { wire, buf, len } = encodeTextRecords(input(), 76, REFS);
  const batch = Buffer.from(buf.subarray(0, len));
  const got = decodeTextRecords(wire, batch, 76, 'in.ldif', 0, 0);
  const e = got[0] as TextEntry;
  const before = e.buf!.toString('latin1', e.start, e.end);
  e.detach();
  batch.fill(0x41);
  t.equal(e.buf!.toString('latin1', e.start, e.end), before, 'the same text after the batch buffer was overwritten');
  t.not(e.buf, batch, 'a buffer of its own');
  t.same(refOf(e, 'uniquemember'), (input()[0] as Entry).attrs.get('uniquemember'), 'references kept (read from its own text)');
});

t.test('spill: a text entry is stored as text and comes back as one, unchanged', async (t) => {
  const { wire, buf, len } = encodeTextRecords(input(), 76, REFS);
  const got = decodeTextRecords(wire, buf.subarray(0, len), 76, 'in.ldif', 7, 3);
  for (const r of got) {
    if (!(r instanceof TextEntry)) continue;
    const back = decodeRecord(encodeRecord(r));
    t.ok(back instanceof TextEntry, `${r.dn}: a text entry again`);
    const b = back as TextEntry;
    t.equal(b.buf!.toString('latin1', b.start, b.end), r.buf!.toString('latin1', r.start, r.end), 'the same text');
    t.same({ ...fields(b), ndn: b.ndn, heap: b.heapBytes }, { ...fields(r), ndn: r.ndn, heap: r.heapBytes }, 'the same fields');
    const refsOf = (x: TextEntry) => [...(x.refs?.keys() ?? [])].map((k) => [k, x.ref(k)]);
    t.same(refsOf(b), refsOf(r), 'the same references, read from the text');
    t.same(b.hashes, r.hashes, 'the same hashes');
    t.same([...b.attrs.entries()], [...r.attrs.entries()], 'parsed back, the same attributes');
  }
  // Once parsed back, it is stored as an ordinary record.
  const e = got[0] as TextEntry;
  void e.attrs;
  const plain = decodeRecord(encodeRecord(e));
  t.notOk(plain instanceof TextEntry, 'a parsed-back entry is stored as attributes');
  t.equal(formatRecord(plain), formatRecord(e), 'and comes back the same');
});

t.test('the sample export round-trips through text entries', async (t) => {
  const text = readFileSync(join(root, 'samples', 'oid-export.ldif'));
  const recs = parseLdifText(text, { file: 'oid-export.ldif' }).records;
  const want = recs.map((r) => formatRecord(r));
  const { wire, buf, len } = encodeTextRecords(recs, 76, REFS);
  const got = decodeTextRecords(wire, buf.subarray(0, len), 76, 'oid-export.ldif', 0, 0);
  t.ok(got.filter((r) => r instanceof TextEntry).length > recs.length / 2, 'most are text entries');
  t.same(got.map((r) => formatRecord(r)), want, 'each record parsed back writes as before');
});

t.test('replaceRef: new values for a reference attribute, written into the text, as the writer writes the entry', async (t) => {
  let checked = 0;
  for (const wrap of [76, 40, 0]) {
    const recs = input();
    const { wire, buf, len } = encodeTextRecords(recs, wrap, REFS);
    for (const [i, r] of recs.entries()) {
      if (r.kind !== 'entry') continue;
      for (const key of REFS) {
        const a = r.attrs.get(key);
        if (!a || a.values.some((v) => typeof v !== 'string')) continue; // a binary reference travels whole
        const variants: string[][] = [
          [...(a.values as string[])].reverse(),
          (a.values as string[]).map((v, j) => (j === 0 ? v.toUpperCase() : v)),
          [(a.values as string[])[0]],
          ['uid=new value that is long enough to be folded at forty columns,ou=People,dc=example,dc=com', ' leading space'],
          [],
        ];
        for (const values of variants) {
          const got = decodeTextRecords(wire, buf.subarray(0, len), wrap, 'in.ldif', 0, 0)[i];
          if (!(got instanceof TextEntry)) continue;
          const plain = input()[i] as Entry;
          if (values.length) plain.attrs.get(key)!.values = values;
          else plain.attrs.delete(key);
          t.ok(got.replaceRef(key, values), 'replaced in the text');
          t.equal(got.buf!.toString('latin1', got.start, got.end), formatRecord(plain, { wrap }), `wrap ${wrap}, ${r.dn}, ${key} <- ${values.length} values: the text the writer makes`);
          t.same(refOf(got, key), plain.attrs.get(key), 'its reference values follow');
          t.same([...got.attrs.entries()], [...plain.attrs.entries()], 'parsed back: the changed entry');
          checked++;
        }
      }
    }
  }
  t.ok(checked >= 40, `${checked} replacements checked`);
});
