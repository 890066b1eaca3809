/**
 * src/dn.ts: RFC 4514 parse, serialize, normalize; parent DN, first RDN, depth, ancestry.
 */
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { dnDepth, dnEquals, escapeDnValue, formatDn, isWithin, normalizeDn, parentDn, parseDn, PLAIN_ENTRY, PLAIN_HASH, plainDn, rdnOf } from '../src/dn.js';
import { hash64 } from '../src/strings.js';
import { LdapflowError } from '../src/errors.js';

t.test('RFC 4514 escapes are unescaped on parse and re-escaped on serialize', async (t) => {
  const cases: Array<[string, string]> = [
    ['cn=a\\,b,dc=x', 'a,b'],
    ['cn=a\\2Cb,dc=x', 'a,b'],
    ['cn=a\\2cb,dc=x', 'a,b'],
    ['cn=a\\+b,dc=x', 'a+b'],
    ['cn=a\\"b,dc=x', 'a"b'],
    ['cn=a\\<b\\>,dc=x', 'a<b>'],
    ['cn=a\\;b,dc=x', 'a;b'],
    ['cn=a\\\\b,dc=x', 'a\\b'],
    ['cn=a\\=b,dc=x', 'a=b'],
    ['cn=\\#hash,dc=x', '#hash'],
    ['cn=trail\\ ,dc=x', 'trail '],
    ['cn=\\ lead,dc=x', ' lead'],
    ['cn=caf\\C3\\A9,dc=x', 'café'],
    ['cn=café,dc=x', 'café'],
    ['cn=a\\00b,dc=x', 'a\u0000b'],
  ];
  for (const [dn, value] of cases) {
    const rdns = parseDn(dn);
    t.equal(rdns.length, 2, `${dn}: two RDNs`);
    t.same(rdns[0], [{ type: 'cn', value }], `${dn} -> ${JSON.stringify(value)}`);
    t.same(rdns[1], [{ type: 'dc', value: 'x' }]);
    // Serialize, then parse again: same value (the escaping round-trips).
    const again = parseDn(formatDn(rdns));
    t.same(again, rdns, `${dn}: serialize and re-parse`);
  }
  // The serializer's escaping, exactly.
  t.equal(escapeDnValue('a,b+c"d\\e<f>g;h=i'), 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i');
  t.equal(escapeDnValue('#x'), '\\#x', 'a leading # is escaped');
  t.equal(escapeDnValue('x#'), 'x#', 'a # elsewhere is not');
  t.equal(escapeDnValue(' x '), '\\ x\\ ', 'leading and trailing spaces are escaped');
  t.equal(escapeDnValue('a b'), 'a b', 'inner spaces are not');
  t.equal(formatDn(parseDn('cn=trail\\ ,dc=x')), 'cn=trail\\ ,dc=x');
  t.equal(formatDn(parseDn('cn=\\#hash,dc=x')), 'cn=\\#hash,dc=x');
});

t.test('hex (BER) values, quoted values and spaces around separators', async (t) => {
  t.same(parseDn('cn=#04024869,dc=x')[0], [{ type: 'cn', value: '#04024869' }], '#hex value kept in # form');
  t.equal(normalizeDn('CN=#0402486A,dc=x'), 'cn=#0402486a,dc=x');
  t.same(parseDn('cn="a,b+c",dc=x')[0], [{ type: 'cn', value: 'a,b+c' }], 'RFC 2253 quoted value');
  t.same(parseDn(' cn = a , dc = x '), [[{ type: 'cn', value: 'a' }], [{ type: 'dc', value: 'x' }]], 'spaces around = and , ignored');
  t.same(parseDn('cn=a b  c,dc=x')[0], [{ type: 'cn', value: 'a b  c' }], 'inner spaces kept as read');
  t.same(parseDn(''), [], 'the empty DN (root DSE) has no RDNs');
  t.same(parseDn('   '), [], 'only spaces is the empty DN');
});

t.test('multi-valued RDNs: AVA order does not matter', async (t) => {
  t.same(parseDn('cn=a+sn=b,dc=x')[0], [{ type: 'cn', value: 'a' }, { type: 'sn', value: 'b' }]);
  t.equal(normalizeDn('sn=B+cn=A,dc=x'), normalizeDn('CN=a+SN=b,DC=X'));
  t.ok(dnEquals('uid=j+cn=John Smith+sn=Smith,ou=p,dc=x', 'sn=smith+uid=J+cn=john smith,ou=P,dc=X'));
  t.notOk(dnEquals('cn=a+sn=b,dc=x', 'cn=a+sn=c,dc=x'));
  t.notOk(dnEquals('cn=a+sn=b,dc=x', 'cn=a,sn=b,dc=x'), 'a multi-valued RDN is not two RDNs');
  t.same(rdnOf('cn=a+sn=b,dc=x'), [{ type: 'cn', value: 'a' }, { type: 'sn', value: 'b' }]);
  t.equal(normalizeDn('cn=a\\+b,dc=x'), 'cn=a\\+b,dc=x', 'an escaped + is a value character, not an AVA separator');
  t.notOk(dnEquals('cn=a\\+sn=b,dc=x', 'cn=a+sn=b,dc=x'));
});

t.test('normalization: case-insensitive types and values, spaces, OIDs', async (t) => {
  t.equal(normalizeDn('CN=x, CN=Users,DC=Example,DC=com'), 'cn=x,cn=users,dc=example,dc=com');
  t.ok(dnEquals('CN=x, CN=Users,DC=Example,DC=com', 'cn=x,cn=users,dc=example,dc=com'), 'the issue\'s example: the same DN');
  t.ok(dnEquals('cn=John  Smith,dc=x', 'cn=john smith,dc=x'), 'inner white space folds to one space');
  t.ok(dnEquals('2.5.4.3=x,0.9.2342.19200300.100.1.25=example', 'cn=X,dc=Example'), 'numeric OIDs map to short names');
  t.ok(dnEquals('OID.2.5.4.3=x,dc=y', 'cn=x,dc=y'), 'OID. prefix (RFC 1779)');
  t.equal(normalizeDn('1.2.3.4=x,dc=y'), '1.2.3.4=x,dc=y', 'unknown OIDs stay numeric');
  t.ok(dnEquals('cn=a\\2Cb,dc=x', 'cn=a\\,b,dc=x'), 'hex escape and character escape are the same value');
  t.ok(dnEquals('cn="a,b",dc=x', 'cn=a\\,b,dc=x'), 'quoted and escaped are the same value');
  t.ok(dnEquals('cn=caf\\C3\\A9,dc=x', 'CN=CAFÉ,dc=x'), 'UTF-8 hex escapes and non-ASCII case folding');
  t.notOk(dnEquals('cn=a,dc=x', 'cn=b,dc=x'));
  t.notOk(dnEquals('cn=a,dc=x', 'cn=a,dc=x,dc=y'));
  // The fast path (no escapes) and the full parser agree.
  for (const [fast, slow] of [
    ['cn=John Smith,ou=People,dc=Example,dc=com', 'cn=John\\20Smith,ou=People,dc=Example,dc=com'],
    ['uid=a=b,dc=x', 'uid=a\\=b,dc=x'],
    [' CN = x ,DC=y', 'cn=\\78,dc=y'],
  ]) t.equal(normalizeDn(fast), normalizeDn(slow), `${fast} == ${slow}`);
  // Normalized forms parse again and are fixed points.
  for (const dn of ['CN=x, CN=Users,DC=Example,DC=com', 'sn=b+cn=a,dc=x', 'cn=a\\,b\\+c,dc=x', 'cn=\\#x,dc=y', 'cn=a=b,dc=y']) {
    const n = normalizeDn(dn);
    t.equal(normalizeDn(n), n, `${dn}: normalize is idempotent`);
  }
  t.equal(normalizeDn(''), '', 'empty DN');
});

t.test('escaped leading/trailing spaces', async (t) => {
  t.same(parseDn('cn=a\\ ,dc=x')[0], [{ type: 'cn', value: 'a ' }], 'an escaped trailing space is part of the value');
  t.same(parseDn('cn=a ,dc=x')[0], [{ type: 'cn', value: 'a' }], 'an unescaped one is not');
  t.same(parseDn('cn=a\\20,dc=x')[0], [{ type: 'cn', value: 'a ' }], 'nor is \\20 dropped');
  // Matching (RFC 4518 insignificant space handling): leading/trailing spaces do not distinguish values.
  t.ok(dnEquals('cn=a\\ ,dc=x', 'cn=a,dc=x'));
});

t.test('invalid DNs throw DN_INVALID, recoverable, naming the DN', async (t) => {
  const bad = ['cn', 'cn=x,', '=x', 'cn=x,,dc=y', 'cn=a\\', 'c n=x', 'cn="unterminated', 'cn=#0', 'cn=#abc', '1cn=x', 'cn=x,dc', ',cn=x'];
  for (const dn of bad) {
    let err: unknown;
    try { parseDn(dn); } catch (e) { err = e; }
    t.ok(err instanceof LdapflowError, `parseDn(${JSON.stringify(dn)}) throws`);
    const e = err as LdapflowError;
    t.equal(e.code, 'DN_INVALID', `${dn}: code`);
    t.equal(e.recoverable, true, `${dn}: recoverable`);
    t.equal(e.dn, dn, `${dn}: names the DN`);
    t.throws(() => normalizeDn(dn), { code: 'DN_INVALID' }, `normalizeDn(${JSON.stringify(dn)}) throws too`);
  }
});

t.test('parentDn, rdnOf, dnDepth, isWithin', async (t) => {
  t.equal(parentDn('cn=x, CN=Users,DC=Example,DC=com'), 'CN=Users,DC=Example,DC=com', 'spelling kept, leading space dropped');
  t.equal(parentDn('cn=a\\,b,ou=x,dc=y'), 'ou=x,dc=y', 'an escaped comma is not a separator');
  t.equal(parentDn('cn=a\\2Cb,ou=x,dc=y'), 'ou=x,dc=y');
  t.equal(parentDn('cn=a\\\\,ou=x,dc=y'), 'ou=x,dc=y', 'an escaped backslash before a real separator');
  t.equal(parentDn('cn="a,b",ou=x'), 'ou=x', 'a comma inside quotes is not a separator');
  t.equal(parentDn('cn=a+sn=b,dc=x'), 'dc=x');
  t.equal(parentDn('dc=com'), '', 'one RDN: parent is the root');
  t.equal(parentDn(''), '');
  t.same(rdnOf('cn=a\\,b,ou=x'), [{ type: 'cn', value: 'a,b' }]);
  t.same(rdnOf(''), []);
  t.equal(dnDepth(''), 0);
  t.equal(dnDepth('dc=com'), 1);
  t.equal(dnDepth('cn=a\\,b,ou=x,dc=y'), 3);
  t.equal(dnDepth('cn="a,b",ou=x,dc=y'), 3);
  const n = normalizeDn('CN=x, CN=Users,DC=Example,DC=com');
  t.ok(isWithin(n, 'dc=example,dc=com'));
  t.ok(isWithin(n, n), 'a DN is within itself');
  t.ok(isWithin(n, ''), 'everything is within the root');
  t.notOk(isWithin(normalizeDn('dc=notexample,dc=com'), 'dc=example,dc=com'), 'suffix match is on RDN boundaries');
  t.notOk(isWithin('dc=com', 'dc=example,dc=com'));
});

t.test('normalizeDn remembers parents without keeping the text they were cut from alive', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  // DNs cut from large strings, as the LDIF reader cuts them from its 64 KiB chunks: 200 x 256 KiB = 51 MiB of text.
  const seen: string[] = [];
  for (let i = 0; i < 200; i++) {
    const chunk = 'x'.repeat(256 * 1024) + `\ncn=u${i},ou=Unit ${i},ou=People,dc=Example,dc=com\n`;
    const dn = chunk.slice(chunk.indexOf('\n') + 1, chunk.lastIndexOf('\n'));
    seen.push(normalizeDn(dn));
  }
  gc();
  gc();
  const grownMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  t.equal(seen[7], 'cn=u7,ou=unit 7,ou=people,dc=example,dc=com');
  t.ok(grownMb < 20, `heap grew ${grownMb.toFixed(1)} MiB after the chunks were dropped (51 MiB if the cache held them)`);
});

t.test('normalizeDn: the split-on-"," fast path agrees with the full parser on random DNs', async (t) => {
  // Each DN is normalized as written (fast path: no escapes) and with the first letter of its last value written as a
  // hex escape (\76 for "v"), which sends it through parseDn. Types in several spellings, values with upper case,
  // inner/outer white space (tabs, NBSP too), "=", non-ASCII, digits; spaces around separators.
  const types = ['cn', 'CN', 'Cn', 'dc', 'ou', 'uid', 'x-1', 'o', '2.5.4.3', 'OID.2.5.4.3', 'oid.0.9.2342.19200300.100.1.25', '1.2.3.4', 'constructor'];
  const chars = ['a', 'b', 'Z', 'Q', '0', '7', ' ', ' ', '  ', '\t', '\u00a0', '=', '-', '.', '(', ')', '/', "'", 'é', 'É', 'ç', 'ß', 'İ', '\u3000', '😀', '*'];
  let seed = 42;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return (seed >>> 8) % n; };
  const bad: string[] = [];
  for (let k = 0; k < 5000; k++) {
    let fast = '';
    let at = 0; // where the last value's "v" is
    const sep = rnd(3) === 0 ? ', ' : ',';
    const sp = () => (rnd(4) === 0 ? ' ' : '');
    for (let r = 1 + rnd(5); r > 0; r--) {
      if (fast) fast += sep;
      fast += sp() + types[rnd(types.length)] + sp() + '=' + sp();
      at = fast.length;
      fast += 'v';
      for (let i = rnd(8); i > 0; i--) fast += chars[rnd(chars.length)];
      fast += sp();
    }
    const slow = fast.slice(0, at) + '\\76' + fast.slice(at + 1);
    let a: string;
    let b: string;
    try { a = normalizeDn(fast); } catch (e) { a = `throws ${(e as LdapflowError).code}`; }
    try { b = normalizeDn(slow); } catch (e) { b = `throws ${(e as LdapflowError).code}`; }
    if (a !== b && bad.push(`${JSON.stringify(fast)}: ${a} | ${b}`) >= 10) break;
  }
  t.same(bad, [], '5000 DNs: the same normalized form both ways');
  t.equal(normalizeDn('Constructor=X,dc=y'), 'constructor=x,dc=y', 'a type spelled like an Object.prototype member is no OID');
  t.equal(normalizeDn('cn=a=B, DC=y'), 'cn=a\\=b,dc=y');
  t.equal(normalizeDn('CN= A  b ,dc=Y'), 'cn=a b,dc=y');
  t.equal(normalizeDn('   '), '', 'a blank DN is the root DSE, as the full parser says');
  t.throws(() => normalizeDn(' \t '), { code: 'DN_INVALID' }, 'the full parser skips spaces only');
  t.throws(() => normalizeDn('cn=x, \t,dc=y'), { code: 'DN_INVALID' }, 'an empty RDN is invalid');
  t.throws(() => normalizeDn('cn=x,dc=y, '), { code: 'DN_INVALID' }, 'a trailing separator is invalid');
});

t.test('plainDn: a DN it calls plain is normalized by lower-casing, and its hashes are those of both spellings', async (t) => {
  // Random DNs of plain characters (ASCII and Latin-1 letters, both cases) and of characters that are not plain (NBSP,
  // ideographic space, U+0130, DEL, C1 controls, an emoji, "=", "#", doubled spaces). The normalized form to match is
  // the full parser's: the DN with the first letter of its last value written as a hex escape (\76 for "v").
  const types = ['cn', 'CN', 'ou', 'uid', 'x-1', 'dc', '2.5.4.3'];
  const chars = ['a', 'Z', '0', '-', '.', ' ', '  ', 'é', 'É', 'Ç', 'ã', 'Õ', 'ß', 'ÿ', '×', '÷', 'Þ', 'þ', '¡', '\u00a0', '\u3000', 'İ', '\u007f', '\u0085', '😀', '=', '#'];
  let seed = 7;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return (seed >>> 8) % n; };
  const bad: string[] = [];
  let plain = 0;
  let plainLatin1 = 0;
  let notPlain = 0;
  for (let k = 0; k < 20000 && bad.length < 10; k++) {
    let dn = '';
    let at = 0;
    for (let r = 1 + rnd(4); r > 0; r--) {
      if (dn) dn += ',';
      dn += types[rnd(types.length)] + '=';
      at = dn.length;
      dn += 'v';
      for (let i = rnd(6); i > 0; i--) dn += chars[rnd(chars.length)];
    }
    const upper = plainDn(dn, dn.length, true);
    if (upper < 0) { notPlain++; continue; }
    plain++;
    if (/[\u00a1-\u00ff]/.test(dn)) plainLatin1++;
    const hashes = [...PLAIN_HASH];
    let slow: string;
    try { slow = normalizeDn(dn.slice(0, at) + '\\76' + dn.slice(at + 1)); } catch (e) { bad.push(`${JSON.stringify(dn)}: plain, but the full parser says ${(e as Error).message}`); continue; }
    const lowered = upper ? dn.toLowerCase() : dn;
    if (lowered !== slow) bad.push(`${JSON.stringify(dn)}: lower-cased ${JSON.stringify(lowered)}, the full parser ${JSON.stringify(slow)}`);
    else if (normalizeDn(dn) !== slow) bad.push(`${JSON.stringify(dn)}: normalizeDn ${JSON.stringify(normalizeDn(dn))}`);
    const want = [...hash64(slow), ...hash64(dn)];
    if (hashes.slice(0, 4).join() !== want.join()) bad.push(`${JSON.stringify(dn)}: hashes ${hashes} want ${want}`);
    // For an entry's DN: its parent's hash, and where it differs from the normalized DN.
    if (plainDn(dn, dn.length, true, true) !== upper) { bad.push(`${JSON.stringify(dn)}: another answer for an entry`); continue; }
    const parent = parentDn(slow);
    const wantEntry = [...want, ...(parent ? hash64(parent) : [0, 0])];
    if ([...PLAIN_HASH].join() !== wantEntry.join() || PLAIN_ENTRY.parent !== (parent !== '')) bad.push(`${JSON.stringify(dn)}: entry hashes ${[...PLAIN_HASH]} want ${wantEntry}`);
    let spelled = slow;
    for (let j = 0; j < PLAIN_ENTRY.n; j += 2) spelled = spelled.slice(0, PLAIN_ENTRY.diffs[j]) + String.fromCharCode(PLAIN_ENTRY.diffs[j + 1]) + spelled.slice(PLAIN_ENTRY.diffs[j] + 1);
    if (spelled !== dn) bad.push(`${JSON.stringify(dn)}: its differences spell ${JSON.stringify(spelled)}`);
  }
  t.same(bad, [], 'every plain DN: lower-casing is the full normalization; the hashes match hash64 of both spellings (and of the parent, for an entry); the differences spell the DN');
  t.ok(plain > 1000 && plainLatin1 > 500 && notPlain > 1000, `both kinds met (${plain} plain, ${plainLatin1} of them with Latin-1; ${notPlain} not)`);
  const long = 'CN=' + 'X'.repeat(300) + ',DC=COM';
  plainDn(long, long.length, true, true);
  const upperAt = [...long].flatMap((c, i) => (c !== c.toLowerCase() ? [i, c.charCodeAt(0)] : []));
  t.same([[...PLAIN_ENTRY.diffs.subarray(0, PLAIN_ENTRY.n)], ...PLAIN_HASH.subarray(4)], [upperAt, ...hash64('dc=com')], `an entry DN with ${upperAt.length / 2} upper-case letters: every difference kept, and its parent hashed`);
  const p = (dn: string) => plainDn(dn, dn.length, false);
  t.equal(p('cn=Jos\u00e9,dc=x'), 1, 'Latin-1 in a value is plain; the upper-case J makes it 1');
  t.equal(p('cn=jos\u00c9'), 1, 'É is upper case');
  t.equal(p('cn=jos\u00e9'), 0, 'é is not');
  t.equal(p('cn=a\u00d7b'), 0, '× is no letter');
  t.equal(p('cn=a\u00a0b'), -1, 'a no-break space is white space to normalization');
  t.equal(p('cn=\u0130'), -1, 'past U+00FF: the full way');
  t.equal(p('c\u00e9=x'), -1, 'not in a type');
});
