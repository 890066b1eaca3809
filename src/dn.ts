/**
 * Distinguished names (RFC 4514): parse, serialize, normalize, parent.
 *
 * Normalized form: attribute types lower-cased (well-known OIDs mapped to their short names), values unescaped,
 * trimmed, inner white space folded to one space and lower-cased (naming attributes match case-insensitively),
 * the AVAs of a multi-valued RDN sorted, then serialized with the minimal RFC 4514 escaping and no spaces.
 * So `CN=x, CN=Users,DC=Example,DC=com` and `cn=x,cn=users,dc=example,dc=com` normalize the same.
 */
import { LdapflowError } from './errors.js';
import { ownString } from './strings.js';

export interface Ava {
  type: string;
  /** The unescaped value; a `#hex` BER value keeps its `#` form. */
  value: string;
}
export type Rdn = Ava[];

/** Well-known numeric OIDs and their short names (a Map: a type spelled like an Object.prototype member is no OID). */
const OID_NAMES = new Map<string, string>(Object.entries({
  '2.5.4.3': 'cn', '2.5.4.4': 'sn', '2.5.4.6': 'c', '2.5.4.7': 'l', '2.5.4.8': 'st', '2.5.4.9': 'street',
  '2.5.4.10': 'o', '2.5.4.11': 'ou', '2.5.4.12': 'title', '0.9.2342.19200300.100.1.1': 'uid',
  '0.9.2342.19200300.100.1.25': 'dc', '1.2.840.113549.1.9.1': 'email',
}));

/** An attribute type: a descriptor, or a numeric OID (RFC 1779's `OID.` prefix accepted, as `normType` expects). */
const ATTR_TYPE = /^([A-Za-z][A-Za-z0-9-]*|(?:[Oo][Ii][Dd]\.)?[0-9]+(\.[0-9]+)*)$/;

function dnError(dn: string, why: string): LdapflowError {
  return new LdapflowError('DN_INVALID', `invalid DN "${dn}": ${why}`, { dn, recoverable: true });
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Parse an RFC 4514 DN string (also accepting RFC 2253 quoted values and spaces around separators). */
export function parseDn(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  const n = dn.length;
  let i = 0;
  const skipSpaces = () => { while (i < n && dn.charCodeAt(i) === 32) i++; };
  skipSpaces();
  if (i >= n) return rdns;
  let rdn: Rdn = [];
  for (;;) {
    skipSpaces();
    const typeStart = i;
    while (i < n && dn[i] !== '=' && dn[i] !== ',' && dn[i] !== '+') i++;
    if (i >= n || dn[i] !== '=') throw dnError(dn, `missing "=" after "${dn.slice(typeStart, i).trim()}"`);
    const type = dn.slice(typeStart, i).trim();
    if (!type) throw dnError(dn, `empty attribute type at position ${typeStart}`);
    if (!ATTR_TYPE.test(type)) throw dnError(dn, `bad attribute type "${type}"`);
    i++; // '='
    skipSpaces();
    let value = '';
    if (dn[i] === '#') {
      const start = i++;
      while (i < n && isHex(dn.charCodeAt(i))) i++;
      value = dn.slice(start, i);
      if ((value.length - 1) % 2 !== 0 || value.length === 1) throw dnError(dn, `bad hex value "${value}"`);
      skipSpaces();
    } else if (dn[i] === '"') {
      i++;
      const bytes: number[] = [];
      let closed = false;
      while (i < n) {
        const c = dn[i];
        if (c === '"') { closed = true; i++; break; }
        if (c === '\\') { i = readEscape(dn, i, bytes); continue; }
        pushChar(bytes, dn.codePointAt(i)!);
        i += dn.codePointAt(i)! > 0xffff ? 2 : 1;
      }
      if (!closed) throw dnError(dn, 'unterminated quoted value');
      value = Buffer.from(bytes).toString('utf8');
      skipSpaces();
    } else {
      const bytes: number[] = [];
      let keepLen = 0; // byte length up to the last escaped or non-space char
      while (i < n) {
        const c = dn[i];
        if (c === ',' || c === '+') break;
        if (c === '\\') {
          i = readEscape(dn, i, bytes);
          keepLen = bytes.length;
          continue;
        }
        const cp = dn.codePointAt(i)!;
        pushChar(bytes, cp);
        i += cp > 0xffff ? 2 : 1;
        if (cp !== 32) keepLen = bytes.length;
      }
      bytes.length = keepLen;
      value = Buffer.from(bytes).toString('utf8');
    }
    rdn.push({ type, value });
    if (i >= n) { rdns.push(rdn); break; }
    if (dn[i] === '+') { i++; continue; }
    if (dn[i] === ',') {
      i++;
      rdns.push(rdn);
      rdn = [];
      skipSpaces();
      if (i >= n) throw dnError(dn, 'trailing ","');
      continue;
    }
    throw dnError(dn, `unexpected "${dn[i]}" at position ${i}`);
  }
  return rdns;
}

function pushChar(bytes: number[], cp: number): void {
  if (cp < 0x80) bytes.push(cp);
  else for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
}

function readEscape(dn: string, i: number, bytes: number[]): number {
  const a = dn.charCodeAt(i + 1);
  if (Number.isNaN(a)) throw dnError(dn, 'dangling "\\" at end');
  if (isHex(a) && isHex(dn.charCodeAt(i + 2))) {
    bytes.push(parseInt(dn.slice(i + 1, i + 3), 16));
    return i + 3;
  }
  const cp = dn.codePointAt(i + 1)!;
  pushChar(bytes, cp);
  return i + 1 + (cp > 0xffff ? 2 : 1);
}

/** Escape a value for use in a DN string (RFC 4514 section 2.4). */
export function escapeDnValue(value: string): string {
  if (value.startsWith('#') && /^#([0-9a-fA-F]{2})+$/.test(value)) return value; // BER hex form
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    const code = value.charCodeAt(i);
    if (c === ',' || c === '+' || c === '"' || c === '\\' || c === '<' || c === '>' || c === ';' || c === '=') out += '\\' + c;
    else if (code === 0) out += '\\00';
    else if ((i === 0 && (c === ' ' || c === '#')) || (i === value.length - 1 && c === ' ')) out += '\\' + c;
    else out += c;
  }
  return out;
}

export function formatDn(rdns: Rdn[]): string {
  return rdns.map((rdn) => rdn.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join('+')).join(',');
}

function normType(t: string): string {
  const l = t.toLowerCase();
  return OID_NAMES.get(l.startsWith('oid.') ? l.slice(4) : l) ?? l;
}

function normValue(v: string): string {
  if (/^#([0-9a-fA-F]{2})+$/.test(v)) return v.toLowerCase();
  return v.trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Characters that send a DN to the full parser: escapes, quotes, multi-valued RDNs, hex values, and characters that
 * need escaping in the normalized form. Anything else is split on "," and "=". A blank DN or an empty RDN
 * (`, ,`), which the full parser rejects, gets there too: normalizeSimple finds no "=" in it and says null. (The
 * test for those was part of this regex: /[\\"+#<>;\0]|^\s*$|,\s*,/, three times slower than the class alone.)
 */
const SLOW = /[\\"+#<>;\0]/;

/** plainDn's hashes, when asked for: hash64 (strings.ts) halves of the normalized DN, then of the DN as spelled;
 * for an entry's DN, then of its parent's normalized DN (0, 0 when it has none: see PLAIN_ENTRY). */
export const PLAIN_HASH = new Int32Array(6);

/** plainDn's findings on an entry's DN, when asked for: whether it has a parent, and where its spelling differs from
 * the normalized DN (position and character code, by pairs in `diffs[0, n)`: the ordering stage keeps a DN's spelling
 * so, see Spellings in order-dependencies.ts). */
export const PLAIN_ENTRY = { parent: false, diffs: new Int32Array(64), n: 0 };

/**
 * Whether `dn[0, end)` is plain in every RDN: a type of a letter then letters, digits or "-"; a value of printable
 * ASCII or Latin-1 (U+00A1 to U+00FF: accented names) without "=", "#", escapes, quotes or the other characters the
 * full parser handles, with spaces only single and between other characters; nothing around the commas. normalizeDn
 * changes nothing in such a DN but the case (normalizeSimple; normValue only trims and folds runs of white space), so
 * one pass decides it without cutting it up. -1 for any other DN, else 1 when it has upper-case letters, 0 when not.
 * With `hash`, PLAIN_HASH gets the hashes of the lower-cased DN and of the DN as spelled (hash64's steps), made in the
 * same pass: what a worker sends for a reference value without making either string. With `entry` as well, the hash
 * of its parent's lower-cased DN (what follows the first comma) and PLAIN_ENTRY: what a worker sends for an entry's DN.
 */
export function plainDn(dn: string, end: number, hash: boolean, entry = false): number {
  let a = 0x811c9dc5 | 0, b = 0x9747b28c | 0; // the lower-cased DN
  let x = 0x811c9dc5 | 0, y = 0x9747b28c | 0; // as spelled
  let pa = 0x811c9dc5 | 0, pb = 0x9747b28c | 0; // the parent, lower-cased (entry)
  let parent = false;
  let nd = 0;
  let d = PLAIN_ENTRY.diffs; // room for a difference at every character, made before the loop
  if (entry && d.length < 2 * end) d = PLAIN_ENTRY.diffs = new Int32Array(2 * end);
  let state = 0; // 0: an RDN's first character, 1: in its type, 2: at its value's start, 3: in its value
  let upper = 0;
  let space = false; // the value's last character was a space
  for (let i = 0; i < end; i++) {
    const c = dn.charCodeAt(i);
    let l = c;
    if (state >= 2) {
      if (c === 44 /* , */) {
        if (space) return -1;
        state = 0;
      } else if (c === 32) {
        if (state === 2 || space) return -1;
        space = true;
      } else {
        if (c >= 127) {
          // Latin-1 letters and signs (accented names): normValue leaves them as they are but lower-cases À-Þ
          // (not ×), each to the character 32 after it. No-break space is white space to it; DEL, C1 controls and
          // anything past U+00FF go the full way.
          if (c > 255 || c < 0xa1) return -1;
          if (c >= 0xc0 && c <= 0xde && c !== 0xd7) { l = c + 32; upper = 1; }
        } else if (c < 32 || c === 61 || c === 35 || c === 92 || c === 34 || c === 43 || c === 60 || c === 62 || c === 59) return -1;
        else if (c >= 65 && c <= 90) { l = c + 32; upper = 1; }
        space = false;
        state = 3;
      }
    } else if (c >= 65 && c <= 90) {
      l = c + 32;
      upper = 1;
      state = 1;
    } else if (c >= 97 && c <= 122) {
      state = 1;
    } else if (state === 0) {
      return -1;
    } else if (c === 61 /* = */) {
      state = 2;
    } else if (!((c >= 48 && c <= 57) || c === 45)) {
      return -1;
    }
    if (hash) {
      a = Math.imul(a ^ l, 0x01000193);
      b = Math.imul(b ^ l, 0x5bd1e995);
      b ^= b >>> 13;
      x = Math.imul(x ^ c, 0x01000193);
      y = Math.imul(y ^ c, 0x5bd1e995);
      y ^= y >>> 13;
      if (entry) {
        if (l !== c) {
          d[nd] = i;
          d[nd + 1] = c;
          nd += 2;
        }
        if (parent) {
          pa = Math.imul(pa ^ l, 0x01000193);
          pb = Math.imul(pb ^ l, 0x5bd1e995);
          pb ^= pb >>> 13;
        } else if (state === 0) parent = true; // the first comma (the only one outside a value of a plain DN)
      }
    }
  }
  if (state < 2 || space) return -1;
  if (hash) {
    a ^= a >>> 16; a = Math.imul(a, 0x85ebca6b); a ^= a >>> 13;
    b ^= b >>> 15; b = Math.imul(b, 0xc2b2ae35); b ^= b >>> 16;
    x ^= x >>> 16; x = Math.imul(x, 0x85ebca6b); x ^= x >>> 13;
    y ^= y >>> 15; y = Math.imul(y, 0xc2b2ae35); y ^= y >>> 16;
    PLAIN_HASH[0] = a;
    PLAIN_HASH[1] = b;
    PLAIN_HASH[2] = x;
    PLAIN_HASH[3] = y;
    if (entry) {
      if (parent) {
        pa ^= pa >>> 16; pa = Math.imul(pa, 0x85ebca6b); pa ^= pa >>> 13;
        pb ^= pb >>> 15; pb = Math.imul(pb, 0xc2b2ae35); pb ^= pb >>> 16;
      } else pa = pb = 0;
      PLAIN_HASH[4] = pa;
      PLAIN_HASH[5] = pb;
      PLAIN_ENTRY.parent = parent;
      PLAIN_ENTRY.n = nd;
    }
  }
  return upper;
}

/** The normalized form of a DN: equal strings mean the same entry. Throws DN_INVALID on a malformed DN. */
export function normalizeDn(dn: string): string {
  const plain = plainDn(dn, dn.length, false);
  if (plain >= 0) return plain ? dn.toLowerCase() : dn;
  if (!SLOW.test(dn)) {
    const n = normalizeSimple(dn);
    if (n !== null) return n;
  }
  return normalizeSlow(dn);
}

/** Normalized parent parts ("ou=x,dc=example,dc=com" as spelled -> normalized): DNs share few parents. */
const suffixes = new Map<string, string>();

/**
 * A DN without escapes, quotes or multi-valued RDNs: its first RDN normalized, then its parent's normalized form
 * (remembered). null when a part is not `type=value` (the full parser then decides).
 */
function normalizeSimple(dn: string): string | null {
  const i = dn.indexOf(',');
  const end = i < 0 ? dn.length : i;
  const eq = dn.indexOf('=');
  if (eq <= 0 || eq >= end) return null;
  const head = simpleHead(dn, eq, end);
  if (head === null) return null;
  if (i < 0) return head;
  const rest = dn.slice(i + 1);
  let tail = suffixes.get(rest);
  if (tail === undefined) {
    const t = normalizeSimple(rest);
    if (t === null) return null;
    if (suffixes.size >= 20000) suffixes.clear();
    tail = ownString(t);
    suffixes.set(ownString(rest), tail);
  }
  return head + ',' + tail;
}

/**
 * The normalized `type=value` of `dn[0, end)`, whose first "=" is at `eq`; null when the type is not valid. The
 * common case (a type of letters, digits and "-"; a value of printable ASCII without spaces, "=" or "#") is cut and
 * lower-cased directly; anything else takes the general steps (trim, OID names, white space folding, escaping).
 */
function simpleHead(dn: string, eq: number, end: number): string | null {
  let c = dn.charCodeAt(0);
  let plain = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  let upper = c <= 90;
  for (let k = 1; plain && k < eq; k++) {
    c = dn.charCodeAt(k);
    if (c >= 65 && c <= 90) upper = true;
    else if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) plain = false;
  }
  for (let k = eq + 1; plain && k < end; k++) {
    c = dn.charCodeAt(k);
    if (c >= 65 && c <= 90) upper = true;
    else if (c <= 32 || c >= 127 || c === 61 || c === 35) plain = false;
  }
  if (plain) {
    // A type of letters, digits and "-" is no OID: normType is lower-casing; the value has nothing to fold or escape.
    const rdn = dn.slice(0, end);
    return upper ? rdn.toLowerCase() : rdn;
  }
  const type = dn.slice(0, eq).trim();
  if (!type || !ATTR_TYPE.test(type)) return null;
  const v = normValue(dn.slice(eq + 1, end));
  return normType(type) + '=' + (v.includes('=') ? escapeDnValue(v) : v);
}

function normalizeSlow(dn: string): string {
  const rdns = parseDn(dn);
  return rdns
    .map((rdn) =>
      rdn
        .map((a) => ({ type: normType(a.type), value: normValue(a.value) }))
        .sort((x, y) => (x.type < y.type ? -1 : x.type > y.type ? 1 : x.value < y.value ? -1 : x.value > y.value ? 1 : 0))
        .map((a) => `${a.type}=${escapeDnValue(a.value)}`)
        .join('+'),
    )
    .join(',');
}

/** True when two DNs name the same entry. */
export function dnEquals(a: string, b: string): boolean {
  return normalizeDn(a) === normalizeDn(b);
}

/** Index of the first unescaped "," in a DN string, or -1. Quoted values are respected. */
function firstSeparator(dn: string): number {
  let quoted = false;
  for (let i = 0; i < dn.length; i++) {
    const c = dn.charCodeAt(i);
    if (c === 92 /* \ */) { i++; continue; }
    if (c === 34 /* " */) quoted = !quoted;
    else if (c === 44 /* , */ && !quoted) return i;
  }
  return -1;
}

/** The parent of a DN, as a string in the same spelling; '' for a one-RDN DN or the root DSE. */
export function parentDn(dn: string): string {
  const i = firstSeparator(dn);
  return i < 0 ? '' : dn.slice(i + 1).trimStart();
}

/** The first RDN of a DN, parsed. */
export function rdnOf(dn: string): Rdn {
  const i = firstSeparator(dn);
  const first = i < 0 ? dn : dn.slice(0, i);
  const rdns = parseDn(first);
  return rdns[0] ?? [];
}

/** Depth of a DN: the number of RDNs. */
export function dnDepth(dn: string): number {
  if (!dn.trim()) return 0;
  let d = 1;
  for (let i = firstSeparator(dn), rest = dn; i >= 0; ) { d++; rest = rest.slice(i + 1); i = firstSeparator(rest); }
  return d;
}

/** True when `ndn` is `ancestor` or below it; both normalized. */
export function isWithin(ndn: string, ancestor: string): boolean {
  if (ancestor === '') return true;
  return ndn === ancestor || ndn.endsWith(',' + ancestor);
}
