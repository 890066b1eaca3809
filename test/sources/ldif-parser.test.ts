/**
 * src/sources/ldif-parser.ts, the engine: the seven examples of RFC 2849, every syntax case of issue 2 (build item 2),
 * malformed records (one reject each, with code and line, and the records after it still come out), chunk-boundary
 * independence, a 5 MB base64 value. The stream wrapper (gzip, stdin, memory bound) is test/sources/ldif-file.test.ts.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LdifParser, parseLdifText, type ParseOptions, type ParseOutput } from '../../src/sources/ldif-parser.js';
import { getStrings, type Entry, type LdifRecord, type Value } from '../../src/entry.js';
import { LdapflowError } from '../../src/errors.js';

const parse = (text: string | Uint8Array, opts: ParseOptions = {}): ParseOutput => parseLdifText(text, { file: 't.ldif', ...opts });

/** name -> values (names as spelled), in input order. */
function attrs(r: LdifRecord): Record<string, Value[]> {
  if (!('attrs' in r)) throw new Error(`record ${r.dn} has no attributes`);
  const o: Record<string, Value[]> = {};
  for (const a of r.attrs.values()) o[a.name] = a.values;
  return o;
}
const entry = (r: LdifRecord | undefined): Entry => {
  if (!r || r.kind !== 'entry') throw new Error(`not an entry: ${JSON.stringify(r)}`);
  return r;
};

/** Feed the same bytes in chunks of `size` (latin1 text, as the stream wrapper does). */
function parseChunked(bytes: Buffer, size: number, opts: ParseOptions = {}): ParseOutput {
  const p = new LdifParser({ file: 't.ldif', ...opts });
  const out: ParseOutput = { records: [], rejects: [] };
  for (let i = 0; i < bytes.length; i += size) p.push(bytes.subarray(i, i + size).toString('latin1'), out);
  p.end(out);
  return out;
}
/** A comparable digest of a parse: records with their line, attributes as base64, rejects with code and line. */
function digest(o: ParseOutput): string {
  const v = (x: Value) => Buffer.from(typeof x === 'string' ? Buffer.from(x, 'utf8') : x).toString('base64') + (typeof x === 'string' ? 's' : 'b');
  return JSON.stringify({
    records: o.records.map((r) => ({
      dn: r.dn, kind: r.kind, line: r.origin?.line, index: r.origin?.index,
      a: 'attrs' in r ? [...r.attrs.values()].map((a) => [a.name, a.values.map(v)]) : undefined,
      m: r.kind === 'change' && r.changetype === 'modify' ? r.mods.map((m) => [m.op, m.name, m.values.map(v)]) : undefined,
    })),
    rejects: o.rejects.map((j) => [j.code, j.origin?.line, j.origin?.index, j.dn]),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The seven examples of RFC 2849, as printed, with the RFC's two known typesetting errors fixed where noted.

const EX1 = `version: 1
dn: cn=Barbara Jensen, ou=Product Development, dc=airius, dc=com
objectclass: top
objectclass: person
objectclass: organizationalPerson
cn: Barbara Jensen
cn: Barbara J Jensen
cn: Babs Jensen
sn: Jensen
uid: bjensen
telephonenumber: +1 408 555 1212
description: A big sailing fan.

dn: cn=Bjorn Jensen, ou=Accounting, dc=airius, dc=com
objectclass: top
objectclass: person
objectclass: organizationalPerson
cn: Bjorn Jensen
sn: Jensen
telephonenumber: +1 408 555 1212
`;

const EX2 = `version: 1
dn:cn=Barbara Jensen, ou=Product Development, dc=airius, dc=com
objectclass:top
objectclass:person
objectclass:organizationalPerson
cn:Barbara Jensen
cn:Barbara J Jensen
cn:Babs Jensen
sn:Jensen
uid:bjensen
telephonenumber:+1 408 555 1212
description:Babs is a big sailing fan, and travels extensively in sea
 rch of perfect sailing conditions.
title:Product Manager, Rod and Reel Division
`;

const EX3 = `version: 1
dn: cn=Gern Jensen, ou=Product Testing, dc=airius, dc=com
objectclass: top
objectclass: person
objectclass: organizationalPerson
cn: Gern Jensen
cn: Gern O Jensen
sn: Jensen
uid: gernj
telephonenumber: +1 408 555 1212
description:: V2hhdCBhIGNhcmVmdWwgcmVhZGVyIHlvdSBhcmUhICBUaGlzIHZhbHVl
 IGlzIGJhc2UtNjQtZW5jb2RlZCBiZWNhdXNlIGl0IGhhcyBhIGNvbnRyb2wgY2hhcmFjdG
 VyIGluIGl0IChhIENSKS4NICBCeSB0aGUgd2F5LCB5b3Ugc2hvdWxkIHJlYWxseSBnZXQg
 b3V0IG1vcmUu
`;

// The RFC prints "# givenname;lang-ja;phonetic::" and "<JapaneseGivenname_in_...>" on two lines without the folding
// space (a page-width wrap of the document); the comment is written folded here, as intended.
const EX4 = `version: 1
dn:: b3U95Za25qWt6YOoLG89QWlyaXVz
# dn:: ou=<JapaneseOU>,o=Airius
objectclass: top
objectclass: organizationalUnit
ou:: 5Za25qWt6YOo
# ou:: <JapaneseOU>
ou;lang-ja:: 5Za25qWt6YOo
# ou;lang-ja:: <JapaneseOU>
ou;lang-ja;phonetic:: 44GI44GE44GO44KH44GG44G2
# ou;lang-ja:: <JapaneseOU_in_phonetic_representation>
ou;lang-en: Sales
description: Japanese office

dn:: dWlkPXJvZ2FzYXdhcmEsb3U95Za25qWt6YOoLG89QWlyaXVz
# dn:: uid=<uid>,ou=<JapaneseOU>,o=Airius
userpassword: {SHA}O3HSv1MusyL4kTjP+HKI5uxuNoM=
objectclass: top
objectclass: person
objectclass: organizationalPerson
objectclass: inetOrgPerson
uid: rogasawara
mail: rogasawara@airius.co.jp
givenname;lang-ja:: 44Ot44OJ44OL44O8
# givenname;lang-ja:: <JapaneseGivenname>
sn;lang-ja:: 5bCP56yg5Y6f
# sn;lang-ja:: <JapaneseSn>
cn;lang-ja:: 5bCP56yg5Y6fIOODreODieODi+ODvA==
# cn;lang-ja:: <JapaneseCn>
title;lang-ja:: 5Za25qWt6YOoIOmDqOmVtw==
# title;lang-ja:: <JapaneseTitle>
preferredlanguage: ja
givenname:: 44Ot44OJ44OL44O8
# givenname:: <JapaneseGivenname>
sn:: 5bCP56yg5Y6f
# sn:: <JapaneseSn>
cn:: 5bCP56yg5Y6fIOODreODieODi+ODvA==
# cn:: <JapaneseCn>
title:: 5Za25qWt6YOoIOmDqOmVtw==
# title:: <JapaneseTitle>
givenname;lang-ja;phonetic:: 44KN44Gp44Gr44O8
# givenname;lang-ja;phonetic::
 <JapaneseGivenname_in_phonetic_representation_kana>
sn;lang-ja;phonetic:: 44GK44GM44GV44KP44KJ
# sn;lang-ja;phonetic:: <JapaneseSn_in_phonetic_representation_kana>
cn;lang-ja;phonetic:: 44GK44GM44GV44KP44KJIOOCjeOBqeOBq+ODvA==
# cn;lang-ja;phonetic:: <JapaneseCn_in_phonetic_representation_kana>
title;lang-ja;phonetic:: 44GI44GE44GO44KH44GG44G2IOOBtuOBoeOCh+OBhg==
# title;lang-ja;phonetic::
# <JapaneseTitle_in_phonetic_representation_kana>
givenname;lang-en: Rodney
sn;lang-en: Ogasawara
cn;lang-en: Rodney Ogasawara
title;lang-en: Sales, Director
`;

// The RFC prints a blank line between "cn: Horatio Jensen" and "cn: Horatio N Jensen" (an erratum: it would end the
// record); written without it here, and tested as printed below.
const ex5 = (photoUrl: string, blank = false) => `version: 1
dn: cn=Horatio Jensen, ou=Product Testing, dc=airius, dc=com
objectclass: top
objectclass: person
objectclass: organizationalPerson
cn: Horatio Jensen
${blank ? '\n' : ''}cn: Horatio N Jensen
sn: Jensen
uid: hjensen
telephonenumber: +1 408 555 1212
jpegphoto:< ${photoUrl}
`;

// The RFC prints a blank line after the first "-" of the Paula Jensen modify (an erratum, noted by go-ldap/ldif too);
// written without it here, and tested as printed below.
const ex6 = (photoUrl: string, blank = false) => `version: 1
# Add a new entry
dn: cn=Fiona Jensen, ou=Marketing, dc=airius, dc=com
changetype: add
objectclass: top
objectclass: person
objectclass: organizationalPerson
cn: Fiona Jensen
sn: Jensen
uid: fiona
telephonenumber: +1 408 555 1212
jpegphoto:< ${photoUrl}

# Delete an existing entry
dn: cn=Robert Jensen, ou=Marketing, dc=airius, dc=com
changetype: delete

# Modify an entry's relative distinguished name
dn: cn=Paul Jensen, ou=Product Development, dc=airius, dc=com
changetype: modrdn
newrdn: cn=Paula Jensen
deleteoldrdn: 1

# Rename an entry and move all of its children to a new location in
# the directory tree (only implemented by LDAPv3 servers).
dn: ou=PD Accountants, ou=Product Development, dc=airius, dc=com
changetype: modrdn
newrdn: ou=Product Development Accountants
deleteoldrdn: 0
newsuperior: ou=Accounting, dc=airius, dc=com

# Modify an entry: add an additional value to the postaladdress
# attribute, completely delete the description attribute, replace
# the telephonenumber attribute with two values, and delete a specific
# value from the facsimiletelephonenumber attribute
dn: cn=Paula Jensen, ou=Product Development, dc=airius, dc=com
changetype: modify
add: postaladdress
postaladdress: 123 Anystreet $ Sunnyvale, CA $ 94086
-
${blank ? '\n' : ''}delete: description
-
replace: telephonenumber
telephonenumber: +1 408 555 1234
telephonenumber: +1 408 555 5678
-
delete: facsimiletelephonenumber
facsimiletelephonenumber: +1 408 555 9876
-

# Modify an entry: replace the postaladdress attribute with an empty
# set of values (which will cause the attribute to be removed), and
# delete the entire description attribute. Note that the first will
# always succeed, while the second will only succeed if at least
# one value for the description attribute is present.
dn: cn=Ingrid Jensen, ou=Product Support, dc=airius, dc=com
changetype: modify
replace: postaladdress
-
delete: description
-
`;

const EX7 = `version: 1
# Delete an entry. The operation will attach the LDAPv3
# Tree Delete Control defined in [9]. The criticality
# field is "true" and the controlValue field is
# absent, as required by [9].
dn: ou=Product Development, dc=airius, dc=com
control: 1.2.840.113556.1.4.805 true
changetype: delete
`;

t.test('RFC 2849 example 1: two entries', async (t) => {
  const out = parse(EX1);
  t.equal(out.rejects.length, 0);
  t.equal(out.records.length, 2);
  const [a, b] = out.records.map(entry);
  t.equal(a.dn, 'cn=Barbara Jensen, ou=Product Development, dc=airius, dc=com');
  t.same(attrs(a).cn, ['Barbara Jensen', 'Barbara J Jensen', 'Babs Jensen']);
  t.same(attrs(a).objectclass, ['top', 'person', 'organizationalPerson']);
  t.same(attrs(a).description, ['A big sailing fan.']);
  t.equal(a.origin?.line, 2, 'the first record starts on the line after "version: 1"');
  t.equal(b.dn, 'cn=Bjorn Jensen, ou=Accounting, dc=airius, dc=com');
  t.same(Object.keys(attrs(b)), ['objectclass', 'cn', 'sn', 'telephonenumber']);
  t.equal(b.origin?.line, 14);
  t.equal(b.origin?.index, 1);
});

t.test('RFC 2849 example 2: no space after the colon, a folded value', async (t) => {
  const out = parse(EX2);
  t.equal(out.rejects.length, 0);
  const e = entry(out.records[0]);
  t.equal(e.dn, 'cn=Barbara Jensen, ou=Product Development, dc=airius, dc=com');
  t.same(attrs(e).description, ['Babs is a big sailing fan, and travels extensively in search of perfect sailing conditions.']);
  t.same(attrs(e).title, ['Product Manager, Rod and Reel Division']);
  t.same(attrs(e).objectclass, ['top', 'person', 'organizationalPerson']);
});

t.test('RFC 2849 example 3: a folded base64 value holding a CR', async (t) => {
  const out = parse(EX3);
  t.equal(out.rejects.length, 0);
  t.same(attrs(entry(out.records[0])).description, [
    'What a careful reader you are!  This value is base-64-encoded because it has a control character in it (a CR).\r  By the way, you should really get out more.',
  ]);
});

t.test('RFC 2849 example 4: UTF-8 values, language tags, comments between lines', async (t) => {
  const out = parse(EX4);
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  t.equal(out.records.length, 2);
  const [ou, user] = out.records.map(entry);
  t.equal(ou.dn, 'ou=営業部,o=Airius');
  t.same(attrs(ou).ou, ['営業部']);
  t.same(attrs(ou)['ou;lang-ja'], ['営業部']);
  t.same(attrs(ou)['ou;lang-ja;phonetic'], ['えいぎょうぶ']);
  t.same(attrs(ou)['ou;lang-en'], ['Sales']);
  t.equal(user.dn, 'uid=rogasawara,ou=営業部,o=Airius');
  t.same(attrs(user)['cn;lang-ja'], ['小笠原 ロドニー']);
  t.same(attrs(user)['title;lang-ja'], ['営業部 部長']);
  t.same(attrs(user).userpassword, ['{SHA}O3HSv1MusyL4kTjP+HKI5uxuNoM=']);
  t.same(attrs(user)['title;lang-en'], ['Sales, Director']);
  t.equal(user.attrs.size, 21, 'every attribute description, none lost to the comments');
});

t.test('RFC 2849 example 5: a :< file URL is read, bytes kept', async (t) => {
  const dir = t.testdir();
  const photo = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(5000)]);
  const path = join(dir, 'hjensen.jpg');
  writeFileSync(path, photo);
  const out = parse(ex5(pathToFileURL(path).href));
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  const e = entry(out.records[0]);
  t.same(attrs(e).cn, ['Horatio Jensen', 'Horatio N Jensen']);
  const v = attrs(e).jpegphoto[0];
  t.ok(v instanceof Uint8Array, 'binary stays bytes');
  t.ok(Buffer.from(v as Uint8Array).equals(photo), 'byte for byte');

  // As printed in the RFC (blank line inside the record): the second half has no dn, one reject, nothing lost silently.
  const printed = parse(ex5(pathToFileURL(path).href, true));
  t.equal(printed.records.length, 1);
  t.equal(printed.rejects.length, 1);
  t.equal(printed.rejects[0].code, 'LDIF_MISSING_DN');
  t.equal(printed.rejects[0].origin?.line, 8, 'the line of "cn: Horatio N Jensen"');
  t.match(printed.rejects[0].raw, /^cn: Horatio N Jensen\n/);
});

t.test('RFC 2849 example 6: change records and comments', async (t) => {
  const dir = t.testdir();
  const photo = randomBytes(3000);
  photo[0] = 0xff; // never valid UTF-8
  const path = join(dir, 'fiona.jpg');
  writeFileSync(path, photo);
  const out = parse(ex6(pathToFileURL(path).href));
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  t.equal(out.records.length, 6);
  const [add, del, modrdn, moddn, mod, mod2] = out.records;
  if (add.kind !== 'change' || add.changetype !== 'add') throw new Error('want add');
  t.equal(add.dn, 'cn=Fiona Jensen, ou=Marketing, dc=airius, dc=com');
  t.same(attrs(add).uid, ['fiona']);
  t.ok(Buffer.from(attrs(add).jpegphoto[0] as Uint8Array).equals(photo), 'jpegphoto read from the file URL');
  t.match(del, { kind: 'change', changetype: 'delete', dn: 'cn=Robert Jensen, ou=Marketing, dc=airius, dc=com' });
  t.match(modrdn, { changetype: 'modrdn', newrdn: 'cn=Paula Jensen', deleteoldrdn: true, newsuperior: null });
  t.match(moddn, { changetype: 'modrdn', newrdn: 'ou=Product Development Accountants', deleteoldrdn: false, newsuperior: 'ou=Accounting, dc=airius, dc=com' });
  if (mod.kind !== 'change' || mod.changetype !== 'modify') throw new Error('want modify');
  t.same(mod.mods, [
    { op: 'add', name: 'postaladdress', values: ['123 Anystreet $ Sunnyvale, CA $ 94086'] },
    { op: 'delete', name: 'description', values: [] },
    { op: 'replace', name: 'telephonenumber', values: ['+1 408 555 1234', '+1 408 555 5678'] },
    { op: 'delete', name: 'facsimiletelephonenumber', values: ['+1 408 555 9876'] },
  ]);
  if (mod2.kind !== 'change' || mod2.changetype !== 'modify') throw new Error('want modify');
  t.same(mod2.mods, [{ op: 'replace', name: 'postaladdress', values: [] }, { op: 'delete', name: 'description', values: [] }]);
  t.equal(mod2.dn, 'cn=Ingrid Jensen, ou=Product Support, dc=airius, dc=com');

  // As printed (a blank line after the first "-"): the rest of that modify has no dn: one reject, the next record comes out.
  const printed = parse(ex6(pathToFileURL(path).href, true));
  t.equal(printed.records.length, 6);
  t.equal(printed.rejects.length, 1);
  t.equal(printed.rejects[0].code, 'LDIF_MISSING_DN');
  t.equal(printed.rejects[0].origin?.line, 42, 'the line of "delete: description"');
  t.equal(printed.records[5].dn, 'cn=Ingrid Jensen, ou=Product Support, dc=airius, dc=com');
});

t.test('RFC 2849 example 7: a control with criticality and no value', async (t) => {
  const out = parse(EX7);
  t.equal(out.rejects.length, 0);
  t.match(out.records[0], { kind: 'change', changetype: 'delete', dn: 'ou=Product Development, dc=airius, dc=com' });
  t.same(out.records[0].controls, [{ oid: '1.2.840.113556.1.4.805', criticality: true, value: null }]);
  t.equal(out.records[0].origin?.line, 6);
});

t.test('every RFC example parses the same in chunks of any size', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'p.jpg');
  writeFileSync(path, randomBytes(300));
  for (const [name, text] of [['1', EX1], ['2', EX2], ['3', EX3], ['4', EX4], ['5', ex5(pathToFileURL(path).href, true)], ['6', ex6(pathToFileURL(path).href, true)], ['7', EX7]]) {
    const bytes = Buffer.from(text, 'utf8');
    const whole = digest(parse(bytes));
    for (const size of [1, 2, 3, 7, 64]) t.equal(digest(parseChunked(bytes, size)), whole, `example ${name}, chunks of ${size}`);
    const crlf = Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8');
    t.equal(digest(parseChunked(crlf, 5)), whole, `example ${name} with CRLF line ends`);
  }
});

// ---------------------------------------------------------------------------------------------------------------

t.test('version line', async (t) => {
  t.equal(parse('version: 1\n\ndn: cn=a\ncn: a\n').records.length, 1, 'alone, followed by a blank line');
  t.equal(parse('VERSION:1\ndn: cn=a\n').records.length, 1, 'case-insensitive, no space');
  t.equal(parse('# c\nversion: 1\ndn: cn=a\n').records[0].origin?.line, 3, 'after a comment');
  t.equal(parse('dn: cn=a\n').records.length, 1, 'optional');
  t.throws(() => parse('version: 2\ndn: cn=a\n'), { code: 'LDIF_UNSUPPORTED_VERSION', line: 1 }, 'another version is fatal: nothing can be trusted');
  const late = parse('dn: cn=a\n\nversion: 1\n\ndn: cn=b\n');
  t.same(late.rejects.map((r) => [r.code, r.origin?.line]), [['LDIF_VERSION_MISPLACED', 3]]);
  t.same(late.records.map((r) => r.dn), ['cn=a', 'cn=b']);
});

t.test('comments: alone, folded, inside a record, before the first record', async (t) => {
  const out = parse(
    '# a file comment\n# folded comment that goes\n  on and dn: cn=fake\n\n' +
    'dn: cn=a\n# inside\ncn: a\n# folded inside\n cn: not-a-value\nsn: s\n#no space\n\n' +
    '# only comments in this block\n# still\n\ndn: cn=b\n',
  );
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  t.same(out.records.map((r) => r.dn), ['cn=a', 'cn=b']);
  t.same(attrs(out.records[0]), { cn: ['a'], sn: ['s'] });
  t.equal(out.records[0].origin?.line, 5);
  t.equal(out.records[1].origin?.line, 16);
  t.equal(out.records[1].origin?.index, 1, 'a comment-only block is not a record');
  // A "#" that is not in column 1 is data.
  t.same(attrs(parse('dn: cn=a\ndescription: # not a comment\n').records[0]).description, ['# not a comment']);
});

t.test('folding anywhere: attribute names, values, base64, DNs, keywords', async (t) => {
  const out = parse(
    'd\n n: cn=Barbara J Jen\n sen,dc=exa\n mple,dc=com\nobjectCl\n ass: top\ndescrip\n tion: a\n  b\n c\ncn:\n : aGVs\n bG8=\n',
  );
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  const e = entry(out.records[0]);
  t.equal(e.dn, 'cn=Barbara J Jensen,dc=example,dc=com');
  t.same(attrs(e).objectClass, ['top']);
  t.same(attrs(e).description, ['a bc'], 'only the first space of a continuation is removed');
  t.same(attrs(e).cn, ['hello'], 'a fold between the two colons of "::" and inside base64');
  const ch = parse('dn: cn=a\nchange\n type: mod\n ify\nrepl\n ace: cn\ncn: b\n-\n').records[0];
  t.match(ch, { kind: 'change', changetype: 'modify', mods: [{ op: 'replace', name: 'cn', values: ['b'] }] });
});

t.test('a fold in the middle of a multi-byte UTF-8 character re-joins', async (t) => {
  // OpenLDAP folds by bytes: "é" is C3 A9, "営" is E5 96 B6, "😀" is F0 9F 98 80. Fold between every pair of bytes.
  for (const ch of ['é', '営', '😀']) {
    const b = Buffer.from(ch, 'utf8');
    for (let cut = 1; cut < b.length; cut++) {
      const bytes = Buffer.concat([
        Buffer.from('dn: cn=caf'), b.subarray(0, cut), Buffer.from('\n '), b.subarray(cut), Buffer.from(',dc=x\ndescription: x'),
        b.subarray(0, cut), Buffer.from('\n '), b.subarray(cut), Buffer.from('y\n'),
      ]);
      const out = parse(bytes);
      t.equal(out.rejects.length, 0);
      t.equal(out.records[0].dn, `cn=caf${ch},dc=x`, `${ch} split after byte ${cut} in a DN`);
      t.same(attrs(out.records[0]).description, [`x${ch}y`], `${ch} split after byte ${cut} in a value`);
      for (const size of [1, 2, 3]) t.equal(digest(parseChunked(bytes, size)), digest(out), `and in chunks of ${size}`);
    }
  }
});

t.test('line ends, blank lines, final newline', async (t) => {
  const want = ['cn=a', 'cn=b', 'cn=c'];
  const texts: Record<string, string> = {
    LF: 'dn: cn=a\ncn: a\n\ndn: cn=b\ncn: b\n\ndn: cn=c\ncn: c\n',
    CRLF: 'dn: cn=a\r\ncn: a\r\n\r\ndn: cn=b\r\ncn: b\r\n\r\ndn: cn=c\r\ncn: c\r\n',
    mixed: 'dn: cn=a\r\ncn: a\n\r\ndn: cn=b\ncn: b\r\n\ndn: cn=c\r\ncn: c',
    'several blank lines': '\n\n\ndn: cn=a\ncn: a\n\n\n\n\ndn: cn=b\ncn: b\n\n\ndn: cn=c\ncn: c\n\n\n\n',
    'blank lines holding spaces and tabs': 'dn: cn=a\ncn: a\n   \ndn: cn=b\ncn: b\n\t\n \t \n\ndn: cn=c\ncn: c\n  \n',
    'no final newline': 'dn: cn=a\ncn: a\n\ndn: cn=b\ncn: b\n\ndn: cn=c\ncn: c',
    'no final newline after CRLF': 'dn: cn=a\r\ncn: a\r\n\r\ndn: cn=b\r\ncn: b\r\n\r\ndn: cn=c\r\ncn: c',
  };
  for (const [name, text] of Object.entries(texts)) {
    const out = parse(text);
    t.equal(out.rejects.length, 0, `${name}: no rejects`);
    t.same(out.records.map((r) => r.dn), want, `${name}: three records`);
    t.same(out.records.map((r) => attrs(r).cn[0]), ['a', 'b', 'c'], `${name}: values without CR`);
    for (const size of [1, 4]) t.equal(digest(parseChunked(Buffer.from(text), size)), digest(out), `${name}: chunks of ${size}`);
  }
  t.same(parse(texts['several blank lines']).records.map((r) => r.origin?.line), [4, 10, 14], 'line numbers count blank lines');
  t.same(parse(texts.CRLF).records.map((r) => r.origin?.line), [1, 4, 7], 'line numbers with CRLF');
  t.same(parse('').records, [], 'empty input');
  t.same(parse('\n\n  \n').records, [], 'only blank lines');
});

t.test('keywords are case-insensitive', async (t) => {
  const out = parse(
    'DN: cn=a\nChangeType: Modify\nADD: cn\ncn: x\n-\nReplace: sn\nsn: y\n-\n\n' +
    'Dn: cn=b\nCHANGETYPE: MODRDN\nNewRDN: cn=c\nDeleteOldRDN: 1\nNewSuperior: dc=y\n\n' +
    'dN: cn=d\nControl: 1.2.3 TRUE\nchangeType: DELETE\n',
  );
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  t.match(out.records[0], { changetype: 'modify', mods: [{ op: 'add', name: 'cn' }, { op: 'replace', name: 'sn' }] });
  t.match(out.records[1], { changetype: 'modrdn', newrdn: 'cn=c', deleteoldrdn: true, newsuperior: 'dc=y' });
  t.match(out.records[2], { changetype: 'delete', controls: [{ oid: '1.2.3', criticality: true, value: null }] });
});

t.test('DNs: dn::, the empty DN, trailing spaces kept', async (t) => {
  const out = parse('dn:: Y249UMOpcm9sYSxkYz14\ncn: a\n\ndn:\nobjectClass: top\n\ndn: \n\ndn::\n\ndn:  cn=two spaces\n');
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  t.same(out.records.map((r) => r.dn), ['cn=Pérola,dc=x', '', '', '', 'cn=two spaces']);
});

t.test('attribute descriptions: options, numeric OIDs, names as spelled, keyed lower-case', async (t) => {
  const e = entry(parse('dn: cn=a\ncn;lang-ja: x\nuserCertificate;binary:: /wEC\n2.5.4.3: oid\nCN: upper\ncn: lower\nx-custom-Attr: y\n1.3.6.1.4.1.1466.0;x-opt: z\n').records[0]);
  t.same([...e.attrs.keys()], ['cn;lang-ja', 'usercertificate;binary', '2.5.4.3', 'cn', 'x-custom-attr', '1.3.6.1.4.1.1466.0;x-opt']);
  t.same(e.attrs.get('cn'), { name: 'CN', values: ['upper', 'lower'] }, 'values of one type collected, first spelling kept');
  t.same(attrs(e)['2.5.4.3'], ['oid']);
  t.same(attrs(e)['1.3.6.1.4.1.1466.0;x-opt'], ['z']);
  t.same([...(attrs(e)["userCertificate;binary"][0] as Uint8Array)], [0xff, 1, 2]);
});

t.test('values: spaces after the colon, raw UTF-8, empty values, base64 text and binary', async (t) => {
  const bin = randomBytes(4096);
  bin[0] = 0xc0; // an invalid UTF-8 lead byte: never text
  const b64 = bin.toString('base64');
  const e = entry(parse(
    'dn: cn=a\nzero:x\none: x\nmany:      x\ntrailing: x  \ninner: a   b\nutf8: Pérola Ñandú 営業部 😀\nempty:\nempty2: \nempty3::\n' +
    `bin:: ${b64}\nbinfolded:: ${b64.match(/.{1,75}/g)!.join('\n ')}\ntext:: UMOpcm9sYQ==\nnospace::UMOpcm9sYQ==\nmanyspaces::    UMOpcm9sYQ==\n` +
    'colon: a:b::c\nlt: <not a url\n',
  ).records[0]);
  const a = attrs(e);
  t.same(a.zero, ['x']);
  t.same(a.one, ['x']);
  t.same(a.many, ['x'], 'several spaces after the colon are FILL');
  t.same(a.trailing, ['x  '], 'trailing spaces kept (a migration must not change data)');
  t.same(a.inner, ['a   b']);
  t.same(a.utf8, ['Pérola Ñandú 営業部 😀'], 'raw UTF-8 decoded');
  t.same(a.empty, ['']);
  t.same(a.empty2, ['']);
  t.same(a.empty3, [''], 'empty base64 is an empty value');
  t.ok(a.bin[0] instanceof Uint8Array && Buffer.from(a.bin[0]).equals(bin), 'binary base64 kept byte for byte');
  t.ok(a.binfolded[0] instanceof Uint8Array && Buffer.from(a.binfolded[0]).equals(bin), 'folded binary base64 too');
  t.same(a.text, ['Pérola'], 'base64 of valid UTF-8 is text');
  t.same(a.nospace, ['Pérola']);
  t.same(a.manyspaces, ['Pérola']);
  t.same(a.colon, ['a:b::c'], 'only the first colon separates');
  t.same(a.lt, ['<not a url'], '"<" after ": " is data');
});

t.test(':< URLs: file read, missing file and other schemes are rejects', async (t) => {
  const dir = t.testdir({ 'v.txt': 'from a file', 'b.bin': Buffer.from([0xff, 0x00, 0x01]) });
  const url = pathToFileURL(join(dir, 'v.txt')).href;
  const out = parse(
    `dn: cn=a\ndescription:< ${url}\nphoto:<${pathToFileURL(join(dir, 'b.bin')).href}\n\n` +
    'dn: cn=b\ncn: b\nphoto:< http://example.com/p.jpg\n\n' +
    `dn: cn=c\nphoto:< ${pathToFileURL(join(dir, 'missing.jpg')).href}\n\n` +
    'dn: cn=d\nphoto:< ftp://example.com/p.jpg\n\ndn: cn=e\n',
  );
  t.same(attrs(out.records[0]).description, ['from a file']);
  t.same([...(attrs(out.records[0]).photo[0] as Uint8Array)], [0xff, 0, 1]);
  t.same(out.rejects.map((r) => [r.code, r.origin?.line, r.dn]), [
    ['LDIF_URL_UNSUPPORTED', 7, 'cn=b'],
    ['LDIF_URL_UNREADABLE', 10, 'cn=c'],
    ['LDIF_URL_UNSUPPORTED', 13, 'cn=d'],
  ]);
  t.match(out.rejects[0].message, /http:\/\/example\.com\/p\.jpg/);
  t.same(out.records.map((r) => r.dn), ['cn=a', 'cn=e'], 'the records after them still come out');
  // A resolver hook replaces the file system.
  const hooked = parse('dn: cn=a\nx:< mem://one\n', { resolveUrl: (u) => Buffer.from(`resolved ${u}`) });
  t.same(attrs(hooked.records[0]).x, ['resolved mem://one']);
});

t.test('change records: every kind, every modify operation, controls', async (t) => {
  const out = parse(
    'dn: cn=a,dc=x\nchangetype: add\nobjectClass: person\ncn: a\nsn: s\n\n' +
    'dn: cn=a,dc=x\nchangetype: delete\n\n' +
    'dn: cn=a,dc=x\nchangetype: modify\nadd: mail\nmail: a@x\nmail: b@x\n-\ndelete: phone\n-\ndelete: fax\nfax: 1\n-\n' +
    'replace: title\ntitle: t\n-\nreplace: empty\n-\nincrement: uidNumber\nuidNumber: 5\n-\nadd: jpegPhoto\njpegPhoto:: /9j/\n\n' +
    'dn: cn=a,dc=x\nchangetype: modrdn\nnewrdn: cn=b\ndeleteoldrdn: 0\n\n' +
    'dn: cn=b,dc=x\nchangetype: moddn\nnewrdn:: Y249UMOpcm9sYQ==\ndeleteoldrdn: 1\nnewsuperior:: b3U9w6lxdWlwZSxkYz14\n\n' +
    'dn: cn=c,dc=x\ncontrol: 1.2.840.113556.1.4.805 true\ncontrol: 1.2.3.4 false: plain value\ncontrol: 1.2.3.5 true:: AP8=\n' +
    'control: 1.2.3.6: no criticality\ncontrol:1.2.3.7\ncontrol: 1.2.3.8 false:\nchangetype: delete\n',
  );
  t.equal(out.rejects.length, 0, JSON.stringify(out.rejects));
  t.same(out.records.map((r) => (r.kind === 'change' ? r.changetype : r.kind)), ['add', 'delete', 'modify', 'modrdn', 'moddn', 'delete']);
  t.same(attrs(out.records[0]), { objectClass: ['person'], cn: ['a'], sn: ['s'] });
  const m = out.records[2];
  if (m.kind !== 'change' || m.changetype !== 'modify') throw new Error('modify');
  t.same(m.mods.map((x) => [x.op, x.name, x.values.length]), [
    ['add', 'mail', 2], ['delete', 'phone', 0], ['delete', 'fax', 1], ['replace', 'title', 1], ['replace', 'empty', 0],
    ['increment', 'uidNumber', 1], ['add', 'jpegPhoto', 1],
  ], 'the last change needs no "-"');
  t.ok(m.mods[6].values[0] instanceof Uint8Array);
  t.match(out.records[4], { newrdn: 'cn=Pérola', deleteoldrdn: true, newsuperior: 'ou=équipe,dc=x' });
  const c = out.records[5].controls!;
  t.same(c.map((x) => [x.oid, x.criticality]), [
    ['1.2.840.113556.1.4.805', true], ['1.2.3.4', false], ['1.2.3.5', true], ['1.2.3.6', false], ['1.2.3.7', false], ['1.2.3.8', false],
  ]);
  t.same(c.map((x) => (x.value instanceof Uint8Array ? [...x.value] : x.value)), [null, 'plain value', [0, 0xff], 'no criticality', null, '']);
  // entries mode: changetype is an ordinary attribute; changes mode: a record without changetype is a reject.
  t.same(attrs(parse('dn: cn=a\nchangetype: add\ncn: a\n', { mode: 'entries' }).records[0]), { changetype: ['add'], cn: ['a'] });
  const ch = parse('dn: cn=a\ncn: a\n\ndn: cn=b\nchangetype: delete\n', { mode: 'changes' });
  t.same(ch.rejects.map((r) => [r.code, r.origin?.line]), [['LDIF_MISSING_CHANGETYPE', 2]]);
  t.equal(ch.records.length, 1);
});

t.test('malformed records: one reject each, with code, line and DN, and the next records still come out', async (t) => {
  const bad: Array<[string, string, string, number, string | undefined]> = [
    // name, record text, code, line within the record (1 = the dn line), dn
    ['no dn', 'cn: a\nsn: b', 'LDIF_MISSING_DN', 1, undefined],
    ['line without colon', 'dn: cn=x\ncn: a\nthis line has no colon', 'LDIF_MISSING_COLON', 3, 'cn=x'],
    ['bad base64', 'dn: cn=x\ncn:: ab$d', 'LDIF_INVALID_BASE64', 2, 'cn=x'],
    ['base64 with a bad length', 'dn: cn=x\ncn:: abcde', 'LDIF_INVALID_BASE64', 2, 'cn=x'],
    ['base64 DN not UTF-8', 'dn:: /w==\ncn: a', 'LDIF_INVALID_UTF8', 1, undefined],
    ['bad attribute name', 'dn: cn=x\nc n: a', 'LDIF_BAD_ATTRIBUTE', 2, 'cn=x'],
    ['empty attribute name', 'dn: cn=x\n: a', 'LDIF_BAD_ATTRIBUTE', 2, 'cn=x'],
    ['second dn', 'dn: cn=x\ncn: a\ndn: cn=y', 'LDIF_DN_INSIDE_RECORD', 3, 'cn=x'],
    ['continuation first', ' dn: cn=x', 'LDIF_BAD_CONTINUATION', 1, undefined],
    ['unknown changetype', 'dn: cn=x\nchangetype: rename', 'LDIF_UNKNOWN_CHANGETYPE', 2, 'cn=x'],
    ['unknown modify op', 'dn: cn=x\nchangetype: modify\nadd: cn\ncn: a\n-\nerase: sn\n-', 'LDIF_UNKNOWN_MODOP', 6, 'cn=x'],
    ['modify without changes', 'dn: cn=x\nchangetype: modify', 'LDIF_MODIFY_WITHOUT_CHANGES', 2, 'cn=x'],
    ['mod value of another attribute', 'dn: cn=x\nchangetype: modify\nreplace: cn\nsn: a\n-', 'LDIF_MOD_ATTRIBUTE_MISMATCH', 4, 'cn=x'],
    ['mod add without values', 'dn: cn=x\nchangetype: modify\nadd: cn\n-', 'LDIF_MOD_ADD_WITHOUT_VALUES', 3, 'cn=x'],
    ['increment with two values', 'dn: cn=x\nchangetype: modify\nincrement: n\nn: 1\nn: 2\n-', 'LDIF_MOD_INCREMENT_VALUES', 3, 'cn=x'],
    ['add without attributes', 'dn: cn=x\nchangetype: add', 'LDIF_ADD_WITHOUT_ATTRIBUTES', 2, 'cn=x'],
    ['delete with content', 'dn: cn=x\nchangetype: delete\ncn: a', 'LDIF_DELETE_WITH_CONTENT', 3, 'cn=x'],
    ['modrdn without newrdn', 'dn: cn=x\nchangetype: modrdn', 'LDIF_MODDN_MISSING', 2, 'cn=x'],
    ['modrdn with a bad deleteoldrdn', 'dn: cn=x\nchangetype: modrdn\nnewrdn: cn=y\ndeleteoldrdn: yes', 'LDIF_MODDN_BAD_DELETEOLDRDN', 4, 'cn=x'],
    ['modrdn with an unexpected line', 'dn: cn=x\nchangetype: modrdn\nnewrdn: cn=y\ndeleteoldrdn: 1\nnewsuperior: dc=z\ncn: q', 'LDIF_MODDN_EXTRA_LINE', 6, 'cn=x'],
    ['modrdn out of order', 'dn: cn=x\nchangetype: modrdn\ndeleteoldrdn: 1\nnewrdn: cn=y', 'LDIF_MODDN_UNEXPECTED', 3, 'cn=x'],
    ['bad control', 'dn: cn=x\ncontrol: not-an-oid true\nchangetype: delete', 'LDIF_BAD_CONTROL', 2, 'cn=x'],
    ['control without changetype', 'dn: cn=x\ncontrol: 1.2.3\ncn: a', 'LDIF_CONTROL_WITHOUT_CHANGETYPE', 2, 'cn=x'],
    ['http URL', 'dn: cn=x\nphoto:< https://example.com/x', 'LDIF_URL_UNSUPPORTED', 2, 'cn=x'],
  ];
  const good = (i: number) => `dn: cn=good${i},dc=x\n# a comment\ncn: good${i}\n`;
  // Each case alone between good records, with its line checked in the whole file.
  for (const [name, rec, code, relLine, dn] of bad) {
    const text = `version: 1\n${good(1)}\n${rec}\n\n${good(2)}\n${good(3)}`;
    const recStart = 6; // version, 3 lines of good1, blank: the bad record starts on line 6
    for (const [label, input] of [['LF', text], ['CRLF', text.replace(/\n/g, '\r\n')]] as const) {
      const out = parse(input);
      t.equal(out.rejects.length, 1, `${name} (${label}): exactly one reject`);
      const r = out.rejects[0];
      t.equal(r.code, code, `${name}: code`);
      t.equal(r.origin?.line, recStart + relLine - 1, `${name} (${label}): line`);
      t.equal(r.origin?.file, 't.ldif');
      t.equal(r.dn, dn, `${name}: dn`);
      t.equal(r.raw, rec, `${name} (${label}): the raw record is kept for the reject file`);
      t.ok(r.message.length > 0 && !/\n/.test(r.message), `${name}: one-line message`);
      t.same(out.records.map((x) => x.dn), ['cn=good1,dc=x', 'cn=good2,dc=x', 'cn=good3,dc=x'], `${name} (${label}): the others come out`);
      t.same(out.records.map((x) => x.origin?.index), [0, 2, 3], `${name}: the reject takes its place in the numbering`);
    }
  }
  // All of them in one file: one reject each, in order, lines right, and every good record.
  let text = '';
  const lines: number[] = [];
  let line = 1;
  for (let i = 0; i < bad.length; i++) {
    const g = good(i);
    text += g + '\n';
    line += 4;
    lines.push(line + bad[i][3] - 1);
    text += bad[i][1] + '\n\n\n';
    line += bad[i][1].split('\n').length + 2;
  }
  text += good(99);
  const all = parse(text);
  t.same(all.rejects.map((r) => r.code), bad.map((b) => b[2]), 'all: codes in order');
  t.same(all.rejects.map((r) => r.origin?.line), lines, 'all: lines');
  t.equal(all.records.length, bad.length + 1, 'all: every good record');
  t.equal(digest(parseChunked(Buffer.from(text), 3)), digest(all), 'all: same in chunks of 3');
});

t.test('fatal damage: a NUL byte, a record without end', async (t) => {
  t.throws(() => parse(Buffer.from('dn: cn=a\ncn: a\n\ndn: cn=b\ncn: \0\n')), { code: 'LDIF_NOT_TEXT', line: 5 });
  let err: unknown;
  try { parse('dn: cn=a\n' + 'description: xxxxxxxxxxxxxxxxxxxx\n'.repeat(100), { maxRecordBytes: 1000 }); } catch (e) { err = e; }
  t.ok(err instanceof LdapflowError && err.code === 'LDIF_RECORD_TOO_LARGE' && err.line === 1, 'a record larger than maxRecordBytes is fatal, naming where it starts');
});

t.test('a 5 MB base64 value parses, byte for byte', async (t) => {
  const bin = randomBytes(3_900_000);
  bin[0] = 0xfe;
  const b64 = bin.toString('base64');
  t.ok(b64.length > 5_000_000);
  const folded = 'jpegPhoto:: ' + b64;
  let text = 'dn: cn=big,dc=x\ncn: big\n' + folded.slice(0, 76);
  for (let i = 76; i < folded.length; i += 75) text += '\n ' + folded.slice(i, i + 75);
  text += '\n\ndn: cn=after,dc=x\ncn: after\n';
  const out = parseChunked(Buffer.from(text, 'latin1'), 1 << 16);
  t.equal(out.rejects.length, 0);
  t.equal(out.records.length, 2);
  const v = attrs(out.records[0]).jpegPhoto[0];
  t.ok(v instanceof Uint8Array && Buffer.from(v).equals(bin));
  t.equal(out.records[1].origin?.line, text.split('\n').length - 2);
});

t.test('the bundled OID sample (raw UTF-8, base64, binary, folds, comments) parses the same in chunks of any size', async (t) => {
  const bytes = readFileSync(new URL('../../samples/oid-export.ldif', import.meta.url));
  const whole = parse(bytes);
  t.equal(whole.rejects.length, 0, 'no rejects');
  t.ok(whole.records.length >= 300, `${whole.records.length} records`);
  const raw = whole.records.flatMap((r) => (r.kind === 'entry' ? getStrings(r, 'description') : [])).filter((s) => /[^\x00-\x7f]/.test(s));
  t.ok(raw.length > 0, 'the sample holds raw UTF-8 descriptions');
  t.notOk(raw.some((s) => s.includes('Ã')), 'raw UTF-8 decoded, not read as latin1');
  const d = digest(whole);
  // Chunks of 1 and 2 bytes split every multi-byte character; a record's non-ASCII bytes may all arrive in an earlier chunk.
  for (const size of [1, 2, 3, 5, 64, 4096]) t.equal(digest(parseChunked(bytes, size)), d, `chunks of ${size}`);
});

t.test('entries that repeat, change or break off the shape of the entry before parse as they do alone', async (t) => {
  // The fast path remembers the previous entry's names by line and which lines start an attribute; every mix of the
  // same shape, a longer or shorter one, a value of an earlier attribute after others, and a declined record between
  // them must give what a fresh parser gives for the entry alone.
  const recs = [
    'dn: cn=a,dc=x\nobjectClass: top\nobjectClass: person\ncn: a\nsn: A\ncn:: w6k=',
    'dn: cn=b,dc=x\nobjectClass: top\nobjectClass: person\ncn: b\nsn: B\ncn:: w6k=',
    'dn: cn=c,dc=x\nobjectClass: top\nobjectClass: person\ncn: c\nsn: C\nsn: C2\ncn: c2',
    'dn: cn=d,dc=x\nobjectClass: top\ncn: d\nobjectClass: person\ncn: d2\nsn: D',
    'dn: cn=e,dc=x\nobjectClass: top\ncn: e\nobjectClass: person\ncn: e2\nsn: E',
    'dn: cn=f,dc=x\nobjectClass: top\ncn: f\n# a comment: the general path\nobjectClass: person\ncn: f2',
    'dn: cn=g,dc=x\nobjectClass: top\ncn: g\nobjectClass: person\ncn: g2\nsn: G',
    'dn: cn=h,dc=x\nobjectClass: top\ncn: h\nbad name: x\nsn: H',
    'dn: cn=i,dc=x\nobjectClass: top\ncn: i\nobjectClass: person\ncn: i2\nsn: I',
    'dn: cn=j,dc=x\nobjectClass: top',
    'dn: cn=k,dc=x\nobjectClass: top\ncn: k\nobjectClass: person\ncn: k2\nsn: K',
    'dn: cn=l,dc=x\nOBJECTCLASS: top\ncn: l\nobjectClass: person\nCN: l2\nsn: L',
  ];
  const all = parse(recs.join('\n\n') + '\n');
  const one = recs.map((r) => parse(r + '\n'));
  t.equal(all.records.length + all.rejects.length, recs.length);
  for (const r of all.records) {
    const k = r.origin!.index;
    t.same(attrs(r), attrs(one[k].records[0]), r.dn);
    t.same([...(r as Entry).attrs.keys()], [...(one[k].records[0] as Entry).attrs.keys()], `${r.dn}: keys`);
  }
});

t.test('attribute names that share a slot of the name table, in any order and spelling, parse as they do alone', async (t) => {
  // The fast path finds a name that is not the previous entry's at that position in a table slot chosen by its length
  // and three of its characters (first, middle, last): "abcde", "aqcde" and "aQcde" share one, and each must be
  // checked character by character, not taken for the name last seen there.
  const pool = ['abcde', 'aqcde', 'aQcde', 'ABCDE', 'abcdf', 'cn', 'CN', 'sn', 'abcde;x-a', 'aqcde;x-a'];
  let seed = 7;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff; return seed % n; };
  const recs: string[] = [];
  for (let i = 0; i < 400; i++) {
    const lines = [`dn: cn=e${i},dc=x`, 'objectClass: top'];
    const n = 1 + rnd(8);
    for (let k = 0; k < n; k++) lines.push(`${pool[rnd(pool.length)]}: v${i}-${k}`);
    recs.push(lines.join('\n'));
  }
  const all = parse(recs.join('\n\n') + '\n');
  t.equal(all.records.length, recs.length);
  t.equal(all.rejects.length, 0);
  let mixed = 0;
  for (const r of all.records) {
    const k = r.origin!.index;
    const alone = entry(parse(recs[k] + '\n').records[0]);
    t.same(attrs(r), attrs(alone), r.dn);
    t.same([...entry(r).attrs.keys()], [...alone.attrs.keys()], `${r.dn}: keys`);
    if (/aqcde/.test(recs[k]) && /abcde/.test(recs[k])) mixed++;
  }
  t.ok(mixed > 20, `entries holding two names of one slot: ${mixed}`);
});

t.test('a short base64 value: text (a U+FFFD of its own included) or bytes, told apart as for a long one', async (t) => {
  // Values up to 512 bytes are decoded as UTF-8 first and checked for U+FFFD; one holding a real U+FFFD is still text.
  const text = 'caf\u00e9 \ufffd ok';
  const bad = Buffer.from([0x41, 0xff, 0x42]); // not UTF-8: bytes
  const long = Buffer.alloc(600, 0x41); long[300] = 0xff; // past 512 bytes, the other way round: still bytes
  const out = parse(`dn: cn=a,dc=x\ndescription:: ${Buffer.from(text, 'utf8').toString('base64')}\nx-bin:: ${bad.toString('base64')}\nx-long:: ${long.toString('base64')}\n`);
  const e = entry(out.records[0]);
  t.equal(e.attrs.get('description')!.values[0], text);
  t.same(e.attrs.get('x-bin')!.values[0], new Uint8Array(bad));
  t.ok(e.attrs.get('x-bin')!.values[0] instanceof Uint8Array);
  t.same(e.attrs.get('x-long')!.values[0], new Uint8Array(long));
});
