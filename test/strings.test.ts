/**
 * strings.ts: Buffer's own encoders called directly (writeUtf8, writeBase64, utf8Of) must do what `buf.write` and
 * `buf.toString` do, including where a string does not fit and where base64 is not valid.
 */
import t from 'tap';
import { utf8Of, writeBase64, writeUtf8 } from '../src/strings.js';

// Strings with 1-, 2-, 3- and 4-byte characters, lone surrogates, and lengths around the buffer's end.
const alphabet = ['a', 'Z', ' ', '\n', 'é', 'ß', 'ł', '€', '中', '😀', '\ud800', '\udc00', ':', '='];
let seed = 7;
const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
const sample = (len: number) => Array.from({ length: len }, () => alphabet[rnd(alphabet.length)]).join('');

t.test('writeUtf8 writes what buf.write writes, as much as fits', async (t) => {
  let checked = 0;
  for (let k = 0; k < 400; k++) {
    const s = sample(rnd(40));
    const size = 1 + rnd(64);
    const off = rnd(size);
    const a = Buffer.alloc(size, 0x2e);
    const b = Buffer.alloc(size, 0x2e);
    const na = a.write(s, off);
    const nb = writeUtf8(b, s, off);
    if (na !== nb || !a.equals(b)) { t.fail(`"${s}" at ${off} in ${size} bytes: ${na} vs ${nb}`); return; }
    checked++;
  }
  t.equal(checked, 400, 'the same bytes and count for 400 strings, offsets and sizes (partial fits included)');
});

t.test('writeBase64 decodes as buf.write(s, "base64") does; utf8Of reads as toString does', async (t) => {
  let checked = 0;
  for (let k = 0; k < 300; k++) {
    const bytes = Buffer.from(sample(rnd(30)), 'utf8');
    let b64 = bytes.toString('base64');
    if (k % 5 === 1) b64 = b64.replace(/=+$/, ''); // unpadded
    if (k % 5 === 2) b64 = b64.slice(0, Math.max(0, b64.length - 1 - rnd(3))); // cut
    if (k % 5 === 3) b64 = '!' + b64 + '*'; // stray characters
    const size = 1 + rnd(40);
    const a = Buffer.alloc(size);
    const b = Buffer.alloc(size);
    const na = a.write(b64, 'base64');
    const nb = writeBase64(b, b64);
    if (na !== nb || !a.equals(b)) { t.fail(`"${b64}" into ${size} bytes: ${na} vs ${nb}`); return; }
    const from = rnd(nb + 1);
    if (a.toString('utf8', from, nb) !== utf8Of(b, from, nb)) { t.fail(`utf8Of differs for ${b.subarray(0, nb).toString('hex')} from ${from}`); return; }
    checked++;
  }
  t.equal(checked, 300, 'the same bytes, count and text for 300 values (unpadded, cut, stray characters, partial fits)');
});
