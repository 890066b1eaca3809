/**
 * The LDIF reader's base64 check (validBase64 in src/sources/ldif-parser.ts) judges a value from the number of bytes
 * Buffer's decoder made of it instead of matching the text against the alphabet. It must give the answer the
 * alphabet check gave, on this Node's decoder: a change in the decoder (skipping, stopping, alphabets) shows here.
 * Also: what the reader makes of such values in a record.
 */
import t from 'tap';
import { validBase64, parseLdifText } from '../../src/sources/ldif-parser.js';

/** The check as it was: standard alphabet by regular expression, padding only at the end, a whole length. */
function reference(b64: string, decoded: number): boolean {
  let n = b64.length;
  if (n % 4 === 1) return false;
  if (/[^A-Za-z0-9+/=]|=[^=]/.test(b64)) return false;
  let pad = 0;
  while (n > 0 && b64.charCodeAt(n - 1) === 61) { n--; pad++; }
  if (pad > 2 || (pad && b64.length % 4 !== 0)) return false;
  return decoded === Math.floor((n * 3) / 4);
}

const buf = Buffer.allocUnsafe(4096);
const decode = (s: string): number => buf.write(s, 'base64');

t.test('named cases', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['', true], ['QQ==', true], ['QUI=', true], ['QUJD', true], ['QUJ', true], ['QQ', true],
    ['Q', false], ['QQ=', false], ['QQ===', false], ['Q===', false], ['QQ=A', false], ['Q=Q=', false],
    ['QU-D', false], ['QU_D', false], ['Q UJD', false], ['QU\nJD', false], ['QUJ*', false], ['QUJ\x80', false],
    ['QUJD\t', false], ['=QUJ', false], ['QUJDRA==', true], ['QUJDRA=', false],
  ];
  for (const [s, want] of cases) {
    t.equal(reference(s, decode(s)), want, `reference: ${JSON.stringify(s)}`);
    t.equal(validBase64(s, decode(s)), want, `${JSON.stringify(s)} is ${want ? 'valid' : 'not valid'}`);
  }
});

t.test('random strings: the same answer as the alphabet check', async (t) => {
  const good = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const bad = ['=', '-', '_', ' ', '\t', '\n', '\r', '*', '.', '\x80', '\xff', '\x00', '!', '\\', ':', '%'];
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let differ = 0;
  let valid = 0;
  let first = '';
  const n = 400_000;
  for (let i = 0; i < n; i++) {
    const len = Math.floor(rnd() * 24);
    const badRate = rnd() < 0.5 ? 0 : rnd() * 0.3;
    let s = '';
    for (let j = 0; j < len; j++) s += rnd() < badRate ? bad[Math.floor(rnd() * bad.length)] : good[Math.floor(rnd() * 64)];
    if (rnd() < 0.3) s += rnd() < 0.5 ? '=' : '==';
    const d = decode(s);
    const want = reference(s, d);
    if (want) valid++;
    if (validBase64(s, d) !== want) { differ++; first ||= JSON.stringify(s); }
  }
  t.equal(differ, 0, `no string judged differently (first: ${first || 'none'})`);
  // Both kinds were tried in number.
  t.ok(valid > n / 10 && valid < n * 0.9, `valid ${valid} and not valid ${n - valid} of ${n}`);
});

t.test('in a record: a bad value rejects the record, good ones decode', async (t) => {
  const text = [
    'dn: cn=a,dc=x', 'cn: a', 'description:: aMOpbGxv', '',
    'dn: cn=b,dc=x', 'cn: b', 'description:: aGVsbG8-', '',
    'dn: cn=c,dc=x', 'cn: c', 'description:: aGVs bG8=', '',
    'dn: cn=d,dc=x', 'cn: d', 'description:: aGVsbG8=', '',
  ].join('\n');
  const out = parseLdifText(Buffer.from(text, 'latin1'));
  t.same(out.records.map((r) => r.dn), ['cn=a,dc=x', 'cn=d,dc=x']);
  t.same(out.rejects.map((r) => r.dn), ['cn=b,dc=x', 'cn=c,dc=x']);
  const vals = out.records.map((r) => (r.kind === 'entry' ? r.attrs.get('description')!.values[0] : undefined));
  t.same(vals, ['héllo', 'hello']);
});
