import t from 'tap';
import { parseFilter, matchFilter, compileFilter, formatFilter } from '../src/filter.js';
import { makeEntry } from '../src/entry.js';
import { LdapflowError } from '../src/errors.js';

const alice = makeEntry('uid=alice,ou=People,dc=example,dc=com', [
  ['objectClass', ['top', 'person', 'organizationalPerson', 'inetOrgPerson']],
  ['cn', 'Alice  Smith'],
  ['cn;lang-de', 'Alicia Schmidt'],
  ['sn', 'Smith'],
  ['uid', 'alice'],
  ['mail', 'Alice@Example.COM'],
  ['uidNumber', '1042'],
  ['description', 'price (*) \\ star'],
  ['jpegPhoto', new Uint8Array([0xff, 0xd8, 0x00, 0x2a])],
]);

const m = (f: string, e = alice) => compileFilter(f)(e);

t.test('equality, presence, and/or/not', async (t) => {
  t.ok(m('(uid=alice)'));
  t.ok(m('uid=alice'), 'outer parentheses optional');
  t.ok(m('(UID=ALICE)'), 'types and values case-insensitive');
  t.ok(m('(cn=alice smith)'), 'white space folded');
  t.notOk(m('(uid=bob)'));
  t.ok(m('(mail=*)'));
  t.notOk(m('(telephoneNumber=*)'));
  t.ok(m('(&(uid=alice)(sn=smith))'));
  t.notOk(m('(&(uid=alice)(sn=jones))'));
  t.ok(m('(|(uid=bob)(sn=smith))'));
  t.ok(m('(!(uid=bob))'));
  t.notOk(m('(!(uid=alice))'));
  t.ok(m('( & (uid=alice) (!(sn=x)) )'), 'spaces between components');
  t.ok(m('(&)'), 'empty and is true');
  t.notOk(m('(|)'), 'empty or is false');
});

t.test('attribute options are subtypes', async (t) => {
  t.ok(m('(cn=Alicia Schmidt)'), 'cn matches cn;lang-de');
  t.ok(m('(cn;lang-de=alicia schmidt)'));
  t.notOk(m('(cn;lang-de=alice smith)'));
});

t.test('substrings', async (t) => {
  t.ok(m('(cn=ali*)'));
  t.ok(m('(cn=*smith)'));
  t.ok(m('(cn=a*e*th)'));
  t.ok(m('(mail=*@example.com)'));
  t.notOk(m('(cn=*bob*)'));
  t.notOk(m('(cn=alice*alice)'), 'initial and final may not overlap');
  t.ok(m('(description=*\\28\\2a\\29*)'), 'escaped ( * ) in a substring');
  t.ok(m('(description=*\\5c*)'), 'escaped backslash');
});

t.test('ordering and approximate', async (t) => {
  t.ok(m('(uidNumber>=1000)'));
  t.notOk(m('(uidNumber>=9999)'));
  t.ok(m('(uidNumber<=1042)'));
  t.ok(m('(uidNumber>=999)'), 'numeric, not text, comparison (text would say "1042" < "999")');
  t.ok(m('(sn>=s)'));
  t.ok(m('(sn~=SMITH)'));
});

t.test('binary values compare by bytes', async (t) => {
  t.ok(m('(jpegPhoto=\\ff\\d8\\00\\2a)'));
  t.notOk(m('(jpegPhoto=\\ff\\d8\\00)'));
  t.ok(m('(jpegPhoto=\\ff\\d8*)'));
});

t.test('extensible match', async (t) => {
  t.ok(m('(uid:=alice)'));
  t.ok(m('(uid:caseExactMatch:=alice)'));
  t.notOk(m('(uid:caseExactMatch:=Alice)'));
  t.ok(m('(ou:dn:=people)'), 'DN attributes with :dn');
  t.notOk(m('(ou=people)'), 'without :dn the DN is not consulted');
  t.ok(m('(:dn:2.5.13.2:=example)'));
});

t.test('objectClass equality consults the superclass resolver', async (t) => {
  const ad = makeEntry('cn=PC1,cn=Computers,dc=example,dc=com', [['objectClass', ['top', 'computer']]]);
  const f = parseFilter('(objectClass=user)');
  t.notOk(matchFilter(f, ad), 'plain name equality without a resolver');
  const sup: Record<string, string[]> = { computer: ['user'], user: ['organizationalperson'] };
  const isSubclassOf = (c: string, w: string): boolean => c === w || (sup[c] ?? []).some((s) => isSubclassOf(s, w));
  t.ok(matchFilter(f, ad, { isSubclassOf }));
  t.ok(matchFilter(parseFilter('(objectClass=organizationalPerson)'), ad, { isSubclassOf }));
  t.notOk(matchFilter(parseFilter('(objectClass=group)'), ad, { isSubclassOf }));
});

t.test('invalid filters throw FILTER_INVALID with a position', async (t) => {
  for (const bad of ['', '(uid=alice', '(uid=a)(x=y)', '(=x)', '(uid~=a*)', '(u id=x)', '(&(uid=a)', 'uid', '(uid=a(b)', '(uid=\\)']) {
    let err: unknown;
    try { parseFilter(bad); } catch (e) { err = e; }
    t.ok(err instanceof LdapflowError && err.code === 'FILTER_INVALID' && /position \d+/.test(err.message), `${bad}: ${(err as Error)?.message}`);
  }
});

t.test('format round-trips', async (t) => {
  for (const f of ['(&(objectclass=person)(!(cn=a*b*c)))', '(|(uidnumber>=10)(sn~=x)(mail=*))', '(cn:dn:caseexactmatch:=X)', '(description=\\28\\2a\\29)']) {
    t.equal(formatFilter(parseFilter(f)), f);
  }
});
