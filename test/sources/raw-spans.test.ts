/**
 * Raw spans (RawSpans in src/sources/ldif-parser.ts, formatEntryRaw in src/sinks/ldif-format.ts): a worker writing
 * text entries or LDIF text copies the lines of attributes that came through unchanged from its input chunk. The text must be
 * byte for byte what the writer makes of the same records, whatever the input looks like and however it was cut into
 * pieces; a line the writer would write differently is never copied; and a changed attribute is written again.
 * Also: the reference hashes a worker makes in one pass for plain DNs equal hash64 of normalizeDn.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Attribute, LdifRecord } from '../../src/entry.js';
import { LdifParser, RawSpans, type ParseOutput } from '../../src/sources/ldif-parser.js';
import { encodeTextRecords, referenceHashes } from '../../src/transforms/text-record.js';
import { formatRecordsToBuffer } from '../../src/sinks/ldif-format.js';
import { normalizeDn } from '../../src/dn.js';
import { hash64 } from '../../src/strings.js';

const root = resolve(import.meta.dirname, '..', '..');
const corpus = process.env.LDAPFLOW_CONFORMANCE ?? resolve(root, '../shared/conformance/ldif');
const REFS = ['member', 'uniquemember', 'manager', 'owner', 'seealso'];

/** Parse `bytes` fed in `piece`-byte latin1 pieces, with spans noted for a writer folding at `wrap` (or none). */
function parse(bytes: Buffer, piece: number, spans?: RawSpans): ParseOutput {
  const p = new LdifParser({ file: 'in.ldif', rawSpans: spans });
  const out: ParseOutput = { records: [], rejects: [] };
  for (let off = 0; off < bytes.length; off += piece) p.push(bytes.toString('latin1', off, Math.min(off + piece, bytes.length)), out);
  p.end(out);
  return out;
}

/** The records without their `raw` marks, for comparing with a parse that noted none. */
function plain(recs: LdifRecord[]): unknown {
  return JSON.parse(JSON.stringify(recs, (k, v) => (k === 'raw' ? undefined : v instanceof Map ? [...v] : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
}

interface Both { same: boolean; rawAttrs: number; recs: LdifRecord[]; text: string; spans: RawSpans }

/** Text entries written with and without copying from the input: same bytes, same wire numbers. */
function both(bytes: Buffer, wrap: number, piece: number, change?: (recs: LdifRecord[]) => void): Both {
  const spans = new RawSpans(wrap);
  const withSpans = parse(bytes, piece, spans);
  const without = parse(bytes, piece);
  t.same(plain(withSpans.records), plain(without.records), 'noting spans changes nothing the reader returns');
  t.same(withSpans.rejects.map((r) => [r.code, r.origin?.line]), without.rejects.map((r) => [r.code, r.origin?.line]));
  change?.(withSpans.records);
  change?.(without.records);
  const a = encodeTextRecords(withSpans.records, wrap, REFS, undefined, { spans, src: bytes });
  const b = encodeTextRecords(without.records, wrap, REFS);
  let rawAttrs = 0;
  for (const r of withSpans.records) if (r.kind === 'entry') for (const x of r.attrs.values()) if ((x.raw ?? -1) >= 0) rawAttrs++;
  const ta = a.buf.subarray(0, a.len);
  // The batch writer (--passthrough's workers) too.
  const c = formatRecordsToBuffer(withSpans.records, wrap, undefined, { spans, src: bytes });
  const d = formatRecordsToBuffer(without.records, wrap);
  const same = ta.equals(b.buf.subarray(0, b.len)) && Buffer.from(a.wire.i.buffer).equals(Buffer.from(b.wire.i.buffer)) && a.wire.side.length === b.wire.side.length &&
    c.buf.subarray(0, c.len).equals(d.buf.subarray(0, d.len));
  return { same, rawAttrs, recs: withSpans.records, text: ta.toString('latin1'), spans };
}

function attr(recs: LdifRecord[], dn: string, key: string): Attribute {
  const r = recs.find((x) => x.dn === dn);
  if (!r || r.kind !== 'entry') throw new Error(`no entry ${dn}`);
  return r.attrs.get(key)!;
}

/** A line folded at column `w` as the writer folds. */
function foldAt(line: string, w: number): string {
  let out = line.slice(0, w);
  for (let i = w; i < line.length; i += w - 1) out += '\n ' + line.slice(i, i + w - 1);
  return out;
}

const long = 'x'.repeat(70) + 'y'.repeat(75) + 'z'.repeat(20);
const variants = [
  'version: 1',
  '',
  'dn: cn=canonical,dc=example,dc=com',
  'objectClass: top',
  'objectClass: person',
  'cn: canonical',
  'sn: Plain',
  'description:',
  `description: ${long.slice(0, 63)}`, // exactly 76 columns: not folded
  'street:: UHJhw6dhIGRhIFPDqQ==',
  'jpegPhoto:: /9j/4AAQSkZJRgABAQ==',
  '',
  'dn: cn=odd,dc=example,dc=com',
  'objectClass: person',
  'cn:  two spaces',
  'sn:no space',
  'title: trailing space ',
  'l: ',
  'st:: YWJj', // base64 of a safe value: the writer writes it plain
  'postalCode:: YWI', // unpadded base64
  'postOfficeBox:: YWJ=', // stray bits in the last character
  'description:: ICBsZWFkaW5nIHNwYWNlcw==',
  'mobile: a\ttab',
  'pager: :colon first',
  'carLicense: <angle first',
  'givenName: Ávila',
  'cn: second cn value after other attributes',
  'telephoneNumber: 1',
  'TelephoneNumber: 2',
  'homePhone: 1',
  'homePhone:: w4E=',
  '',
  'dn: cn=folds,dc=example,dc=com',
  'objectClass: person',
  'cn: folds',
  foldAt(`description: ${long}`, 76),
  foldAt(`sn: ${long.slice(0, 100)}`, 76),
  foldAt(`title:: ${Buffer.from('Ávila ' + long).toString('base64')}`, 76),
  `l: ${long}`, // longer than 76 columns, not folded
  (() => { const x = `mail: ${long}`; return x.slice(0, 76) + '\n ' + x.slice(76); })(), // a last continuation line too long
  (() => { const x = `st: ${long}`; return x.slice(0, 76) + '\n ' + x.slice(76, 126) + '\n ' + x.slice(126); })(), // one too short before the last
  '',
  '# a comment between records',
  'dn: cn=comment,dc=example,dc=com',
  '# a comment inside a record',
  'objectClass: person',
  'cn: comment',
  'sn: c',
  '',
  'dn: cn=group,dc=example,dc=com',
  'objectClass: groupOfNames',
  'cn: group',
  'member: cn=canonical,dc=example,dc=com',
  'member: CN=Odd,DC=example,DC=com',
  'member: not a dn',
  '',
  'dn: cn=change,dc=example,dc=com',
  'changetype: modify',
  'replace: sn',
  'sn: x',
  '-',
  '',
  'dn: cn=last,dc=example,dc=com',
  'objectClass: person',
  'cn: last',
  'sn: no newline at the end',
].join('\n');


t.test('every variant of a line: the same text with spans as without, for each fold column and piece size', async (t) => {
  const bytes = Buffer.from(variants + '\n\n' + ['dn: cn=refold,dc=example,dc=com', 'objectClass: person', 'cn: refold', foldAt(`sn: ${long}`, 40)].join('\n') + '\n', 'utf8');
  for (const wrap of [76, 40, 0]) {
    for (const piece of [1, 7, 64, 1 << 16]) {
      const r = both(bytes, wrap, piece);
      t.ok(r.same, `wrap ${wrap}, pieces of ${piece} bytes`);
      t.ok(r.rawAttrs > 10, `wrap ${wrap}, pieces of ${piece}: spans were used (${r.rawAttrs})`);
    }
  }
  const { recs } = both(bytes, 76, 1 << 16);
  const rawOf = (dn: string, key: string) => attr(recs, dn, key).raw;
  for (const k of ['objectclass', 'cn', 'sn', 'description', 'street', 'jpegphoto']) t.ok(rawOf('cn=canonical,dc=example,dc=com', k)! >= 0, `canonical ${k}: copied`);
  // Each line here is one the writer writes otherwise (or an attribute whose lines are apart, or spelled two ways).
  for (const k of ['cn', 'sn', 'l', 'postalcode', 'postofficebox', 'telephonenumber', 'homephone']) t.equal(rawOf('cn=odd,dc=example,dc=com', k), -1, `odd ${k}: not copied`);
  // Lines that look as the writer writes them, but whose values it writes base64: its check on the values declines them.
  const { text } = both(bytes, 76, 1 << 16);
  for (const k of ['title', 'mobile', 'pager', 'st']) t.ok(rawOf('cn=odd,dc=example,dc=com', k)! >= 0, `odd ${k}: lines noted`);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  for (const line of [`\ntitle:: ${b64('trailing space ')}\n`, `\nmobile:: ${b64('a\ttab')}\n`, `\npager:: ${b64(':colon first')}\n`, `\ncarLicense:: ${b64('<angle first')}\n`, '\nst: abc\n', '\ncn: two spaces\n', '\nsn: no space\n']) {
    t.ok(text.includes(line), `written as the writer writes it: ${JSON.stringify(line)}`);
  }
  for (const k of ['description', 'sn', 'title']) t.ok(rawOf('cn=folds,dc=example,dc=com', k)! >= 0, `folded at 76 as the writer folds: ${k} copied`);
  t.equal(rawOf('cn=refold,dc=example,dc=com', 'sn'), -1, 'folded at 40, read for 76: not copied');
  t.equal(rawOf('cn=folds,dc=example,dc=com', 'l'), -1, 'longer than the fold column and not folded: not copied');
  t.equal(rawOf('cn=folds,dc=example,dc=com', 'mail'), -1, 'a last continuation line longer than the fold column: not copied');
  t.equal(rawOf('cn=folds,dc=example,dc=com', 'st'), -1, 'a continuation line shorter than the fold column before the last: not copied');
  const comment = recs.find((x) => x.dn === 'cn=comment,dc=example,dc=com');
  t.ok(comment && comment.kind === 'entry' && [...comment.attrs.values()].every((a) => a.raw === undefined), 'a record with a comment: the general reader, no spans');
});

t.test('CRLF input: offsets would not be the input\'s, so nothing is copied, and the text is the same', async (t) => {
  const bytes = Buffer.from(variants.replace(/\n/g, '\r\n') + '\r\n', 'utf8');
  for (const piece of [1, 5, 1 << 16]) {
    const r = both(bytes, 76, piece);
    t.ok(r.same, `pieces of ${piece}`);
  }
  // An LF file whose later part has CRLF: spans before the first CR may be used, none after it is wrong.
  const mixed = Buffer.from(variants + '\n\n' + variants.replace(/dc=example/g, 'dc=crlf').replace(/\n/g, '\r\n') + '\r\n', 'utf8');
  for (const piece of [3, 64, 1 << 16]) t.ok(both(mixed, 76, piece).same, `LF then CRLF, pieces of ${piece}`);
});

t.test('attributes changed after reading are written from their values, not copied', async (t) => {
  const bytes = Buffer.from(variants + '\n', 'utf8');
  const dn = 'cn=canonical,dc=example,dc=com';
  const cases: Array<[string, (a: Attribute, recs: LdifRecord[]) => void, string]> = [
    ['new values array on the same object', (a) => { a.values = ['Changed']; }, '\nsn: Changed\n'],
    ['renamed on the same object', (a) => { a.name = 'SN'; }, '\nSN: Plain\n'],
    ['a copy with other values keeps the mark', (a, recs) => {
      const r = recs.find((x) => x.dn === dn)!;
      if (r.kind === 'entry') r.attrs.set('sn', { ...a, values: ['Copied'] });
    }, '\nsn: Copied\n'],
  ];
  for (const [name, change, expect] of cases) {
    const r = both(bytes, 76, 1 << 16, (recs) => change(attr(recs, dn, 'sn'), recs));
    t.ok(r.same, `${name}: the same text as the writer's`);
    t.ok(r.text.includes(expect), `${name}: the new value is written`);
  }
  // Values the writer would write base64 now, in an attribute whose lines were plain: the writer's check declines.
  const r = both(bytes, 76, 1 << 16, (recs) => {
    const a = attr(recs, dn, 'sn');
    a.values.length = 0; // the one change the invariant forbids, made on purpose: the check on the values still sees it
    a.values.push(' leading space');
  });
  t.ok(r.same, 'a value that must be base64 now is written base64');
});

t.test('real exports and the peer corpus: the same text with spans as without', async (t) => {
  const files = [join(root, 'samples', 'oid-export.ldif'), join(root, 'samples', 'changes.ldif')];
  if (existsSync(corpus)) {
    for (const d of readdirSync(corpus, { withFileTypes: true }).filter((x) => x.isDirectory())) {
      for (const f of readdirSync(join(corpus, d.name)).filter((x) => x.endsWith('.ldif')).sort()) files.push(join(corpus, d.name, f));
    }
  } else {
    t.comment(`conformance corpus not found at ${corpus}: only the samples`);
  }
  let used = 0;
  let refused = 0;
  for (const f of files) {
    const bytes = readFileSync(f);
    // A case the reader refuses as a whole (a NUL byte, say) has nothing to write: skipped, and counted.
    try { parse(bytes, 1 << 16); } catch { refused++; continue; }
    for (const piece of [13, 1 << 16]) {
      const r = both(bytes, 76, piece);
      if (!r.same) t.fail(`${f}, pieces of ${piece}: text differs`);
      used += r.rawAttrs;
    }
    t.pass(f.slice(f.lastIndexOf('/', f.lastIndexOf('/') - 1) + 1));
  }
  t.ok(refused < files.length / 10, `few cases the reader refuses as a whole (${refused} of ${files.length})`);
  t.ok(used > 0, `spans used across the files (${used})`);
});

t.test('reference hashes in one pass equal hash64 of the normalized DN and of the DN part as spelled', async (t) => {
  const pick = <T>(a: T[], r: () => number) => a[Math.floor(r() * a.length)];
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const types = ['cn', 'CN', 'uid', 'ou', 'OU', 'dc', 'o', 'l', 'x-Type2', '2.5.4.3', 'oid.2.5.4.3', 'commonName', 'c1', '1a', ''];
  const chars = 'abcXYZ019 -_.@=#+,;<>"\\é\tÁ';
  const values: string[] = [
    'cn=plain,dc=example,dc=com', 'CN=Upper,DC=Example,DC=COM', 'uid=a,ou=b', 'cn=', 'cn=,dc=x', 'cn=a,', ',cn=a', 'cn=a,,dc=b',
    'cn=a, dc=b', 'cn = a,dc=b', 'cn=a+sn=b,dc=c', 'cn=a\\,b,dc=c', 'cn="q",dc=c', 'cn=#04024869,dc=c', 'cn=a=b,dc=c',
    "uid=alice,ou=People,dc=example,dc=com#'0101'B", 'cn=Ávila,dc=c', 'not a dn', '', 'cn', 'cn=a;b', 'x-Type2=v,dc=c',
  ];
  for (let i = 0; i < 3000; i++) {
    const n = 1 + Math.floor(rnd() * 4);
    const rdns: string[] = [];
    for (let k = 0; k < n; k++) {
      let v = '';
      for (let m = Math.floor(rnd() * 8); m > 0; m--) v += rnd() < 0.93 ? pick([...'abcdefXYZ019-_.@'], rnd) : pick([...chars], rnd);
      rdns.push(pick(types, rnd) + (rnd() < 0.97 ? '=' : '') + v);
    }
    values.push(rdns.join(rnd() < 0.95 ? ',' : ', '));
  }
  let plainCount = 0;
  for (const v of values) {
    const h = referenceHashes(v);
    const cut = v.endsWith("'B") && /#'[01]*'B$/.test(v) ? v.search(/#'[01]*'B$/) : v.length;
    const part = v.slice(0, cut);
    let expect: number[];
    try {
      const n = normalizeDn(part);
      const a = [...hash64(n)];
      expect = [...a, ...hash64(part)];
      if (n === part.toLowerCase()) plainCount++;
    } catch {
      expect = [NaN];
    }
    if (Number.isNaN(expect[0])) {
      if (!Number.isNaN(h[0])) t.fail(`"${v}": not a DN, hashed anyway`);
    } else if (![...h].every((x, i) => x === expect[i])) {
      t.fail(`"${v}": hashes differ`);
    }
  }
  // Both ways taken: plain DNs (one pass) and the others (normalizeDn), valid or not.
  t.ok(plainCount > 1000 && values.length - plainCount > 500, `plain DNs among them: ${plainCount} of ${values.length}`);
  t.pass(`${values.length} values`);
});
