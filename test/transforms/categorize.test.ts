import t from 'tap';
import { categorize, Classifier, CATEGORIES } from '../../src/transforms/categorize.js';
import { makeEntry, type Batch, type Entry } from '../../src/entry.js';
import { LdapflowError } from '../../src/errors.js';
import { schemaFromDescriptions } from '../../src/schema/schema.js';

const oc = (dn: string, classes: string[], ...attrs: Array<[string, string | string[]]>) =>
  makeEntry(dn, [['objectClass', classes], ...attrs]);

const builtins: Array<[Entry, string]> = [
  // Oracle OID
  [oc('cn=jdoe,cn=Users,dc=example,dc=com', ['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'orclUser', 'orclUserV2']), 'users'],
  [oc('cn=admins,cn=Groups,dc=example,dc=com', ['top', 'groupOfUniqueNames', 'orclGroup']), 'groups'],
  [oc('cn=OracleContext,dc=example,dc=com', ['top', 'orclContext']), 'containers'],
  [oc('cn=Products,cn=OracleContext', ['top', 'orclContainer']), 'containers'],
  [oc('cn=app1,cn=Products,cn=OracleContext', ['top', 'orclApplicationEntity']), 'applications'],
  [oc('cn=ORCL,cn=OracleContext,dc=example,dc=com', ['top', 'orclNetService']), 'services'],
  [oc('cn=PwdPolicyEntry,cn=common,cn=products,cn=oraclecontext', ['top', 'orclPwdPolicy']), 'policies'],
  // Active Directory
  [oc('CN=Jane,CN=Users,DC=corp,DC=com', ['top', 'person', 'organizationalPerson', 'user']), 'users'],
  [oc('CN=PC1,CN=Computers,DC=corp,DC=com', ['top', 'person', 'organizationalPerson', 'user', 'computer']), 'applications'],
  [oc('CN=Domain Admins,CN=Users,DC=corp,DC=com', ['top', 'group']), 'groups'],
  [oc('CN=Users,DC=corp,DC=com', ['top', 'container']), 'containers'],
  [oc('OU=Sales,DC=corp,DC=com', ['top', 'organizationalUnit']), 'organizational_units'],
  [oc('CN={31B2F340},CN=Policies,CN=System,DC=corp,DC=com', ['top', 'container', 'groupPolicyContainer']), 'policies'],
  [oc('CN=PSO1,CN=Password Settings Container,CN=System,DC=corp,DC=com', ['top', 'msDS-PasswordSettings']), 'policies'],
  // OpenLDAP / 389
  [oc('uid=u1,ou=People,dc=example,dc=com', ['top', 'account', 'posixAccount']), 'users'],
  [oc('cn=g,ou=Groups,dc=example,dc=com', ['top', 'posixGroup']), 'groups'],
  [oc('cn=g2,ou=Groups,dc=example,dc=com', ['top', 'groupOfNames']), 'groups'],
  [oc('cn=default,ou=Policies,dc=example,dc=com', ['top', 'device', 'pwdPolicy']), 'policies'],
  [oc('dc=example,dc=com', ['top', 'dcObject', 'organization']), 'containers'],
];

t.test('built-in defaults: OID, AD, OpenLDAP classes', async (t) => {
  const c = new Classifier();
  for (const [e, want] of builtins) t.equal(c.classify(e), want, `${e.dn} -> ${want}`);
});

t.test('a subclass of person is a user: built-in table and schema', async (t) => {
  const c = new Classifier();
  t.equal(c.classify(oc('cn=x,o=corp', ['top', 'residentialPerson'])), 'users');
  // A custom class known only to the schema.
  const schema = schemaFromDescriptions([], [
    "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
    "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) )",
    "( 1.2.3.4.1 NAME 'acmeEmployee' SUP person STRUCTURAL )",
    "( 1.2.3.4.2 NAME 'acmeContractor' SUP acmeEmployee STRUCTURAL )",
  ]);
  const e = oc('cn=bob,o=acme', ['top', 'acmeContractor']);
  t.equal(new Classifier().classify(e), 'unknown', 'unknown without a schema (no DN or attribute signal)');
  t.equal(new Classifier({ schema }).classify(e), 'users');
  t.equal(new Classifier({ schema, rules: [{ category: 'services', filter: '(objectClass=person)' }] }).classify(e), 'services', 'filters see the superclass chain');
});

t.test('DN and attribute signals when classes say nothing', async (t) => {
  const c = new Classifier();
  t.equal(c.classify(oc('ou=Whatever,dc=example,dc=com', ['top', 'extensibleObject'])), 'organizational_units');
  t.equal(c.classify(oc('cn=x,ou=People,dc=example,dc=com', ['top', 'extensibleObject'])), 'users');
  t.equal(c.classify(oc('cn=x,ou=Groups,dc=example,dc=com', ['top', 'extensibleObject'])), 'groups');
  t.equal(c.classify(oc('cn=x,o=corp', ['top', 'extensibleObject'], ['member', 'cn=a,o=corp'])), 'groups');
  t.equal(c.classify(oc('cn=x,o=corp', ['top', 'extensibleObject'], ['pwdMaxAge', '3600'])), 'policies');
  t.equal(c.classify(oc('cn=x,o=corp', ['top', 'extensibleObject'])), 'unknown');
});

t.test('configured rules: first match wins, before the defaults', async (t) => {
  const c = new Classifier({
    rules: [
      { category: 'services', filter: '(objectClass=orclNetService)' },
      { category: 'applications', dnSuffix: 'OU=Service Accounts, dc=example,dc=com' },
      { category: 'users', dnSuffix: 'dc=example,dc=com' },
      { category: 'vip', filter: '(&(objectClass=person)(title=CEO))' },
    ],
  });
  t.equal(c.classify(oc('cn=ORCL,cn=OracleContext,dc=example,dc=com', ['top', 'orclNetService'])), 'services');
  t.equal(c.classify(oc('uid=svc1,ou=service accounts,dc=example,dc=com', ['top', 'inetOrgPerson'])), 'applications', 'DN suffix in another spelling');
  t.equal(c.classify(oc('cn=g,ou=Groups,dc=example,dc=com', ['top', 'groupOfNames'])), 'users', 'the earlier suffix rule wins over the defaults');
  t.equal(c.classify(oc('cn=boss,o=corp', ['top', 'person'], ['title', 'ceo'])), 'vip', 'own category names are allowed');
  t.equal(c.classify(oc('cn=g,o=corp', ['top', 'groupOfNames'])), 'groups', 'no rule matches: defaults');
  t.equal(new Classifier({ rules: [], builtins: false }).classify(oc('cn=g,o=corp', ['groupOfNames'])), 'unknown');
});

t.test('bad rules name the option', async (t) => {
  const bad = (rules: unknown, re: RegExp) => {
    let err: unknown;
    try { categorize({ rules: rules as never }); } catch (e) { err = e; }
    t.ok(err instanceof LdapflowError && err.code === 'OPTION_INVALID' && re.test(err.message), `${JSON.stringify(rules)}: ${(err as Error)?.message}`);
  };
  bad([{ category: 'users', filter: '(uid=x' }], /rules\[0\]\.filter.*invalid LDAP filter/);
  bad([{ category: 'Users!', filter: '(uid=x)' }], /rules\[0\]\.category/);
  bad([{ category: 'users' }], /rules\[0\].*needs "filter"/);
  bad([{ category: 'users', dnSuffix: 'not a dn' }], /rules\[0\]\.dnSuffix/);
  bad('nope', /option "rules"/);
});

t.test('the stage sets record.category and counts CATEGORY_<NAME>; options are plain data', async (t) => {
  const stage = categorize({ rules: [{ category: 'services', filter: '(cn=orcl)' }] });
  t.equal(stage.kind, 'map');
  t.same(stage.worker, { factory: 'categorize', options: { rules: [{ category: 'services', filter: '(cn=orcl)' }] } });
  t.same(structuredClone(stage.worker), stage.worker, 'structured-clone safe');
  const records = builtins.map(([e]) => structuredClone(e));
  records.push(oc('cn=ORCL,o=corp', ['top'], ['cn', 'ORCL']));
  records.push(oc('cn=?,o=corp', ['top']));
  const batch: Batch = { seq: 0, records: [...records, { kind: 'change', changetype: 'delete', dn: 'cn=gone,o=corp' }], rejects: [] };
  const out = stage.fn(batch);
  for (const r of out.records.slice(0, builtins.length)) t.ok(CATEGORIES.includes(r.category as never));
  t.equal(out.records[builtins.length].category, 'services');
  t.equal(out.records[builtins.length + 2].category, undefined, 'a delete record is not categorized');
  const want: Record<string, number> = {};
  for (const [, c] of builtins) want['CATEGORY_' + c.toUpperCase()] = (want['CATEGORY_' + c.toUpperCase()] ?? 0) + 1;
  want.CATEGORY_SERVICES++;
  want.CATEGORY_UNKNOWN = 1;
  t.same(out.counts, want);
});

t.test('class lists remembered across entries: repeats, other spellings, prefixes, binary values', async (t) => {
  const c = new Classifier();
  const lists: Array<[Array<string | Uint8Array>, string]> = [
    [['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'orclUser'], 'users'],
    [['top', 'person', 'organizationalPerson', 'inetOrgPerson', 'orclUser'], 'users'],
    [['TOP', 'Person'], 'users'],
    [['top'], 'unknown'],
    [['top', 'groupOfUniqueNames', 'orclGroup'], 'groups'],
    [['top', 'groupOfUniqueNames'], 'groups'],
    [['top', 'groupOfUniqueNames', 'orclGroup', 'orclPwdPolicy'], 'policies'],
    [['top', new TextEncoder().encode('orclNetService')], 'services'],
    [['top', ' organizationalUnit '], 'organizational_units'],
    [['top', 'groupOfUniqueNames', 'orclGroup'], 'groups'],
  ];
  // Twice over, so the second pass answers from what the first remembered; a DN that says nothing.
  for (let pass = 0; pass < 2; pass++) {
    for (const [classes, want] of lists) {
      const e = makeEntry('cn=x,o=corp', [['objectClass', classes]]);
      t.equal(c.classify(e), want, `pass ${pass}: ${classes.map(String).join(',')}`);
    }
  }
  // A stage batch with neighbours of one category counts each once per entry, categories in first-seen order.
  const stage = categorize();
  const recs = [...lists, ...lists].map(([classes]) => makeEntry('cn=x,o=corp', [['objectClass', classes]]));
  const out = stage.fn({ seq: 0, records: recs, rejects: [] });
  t.same(Object.entries(out.counts ?? {}), [
    ['CATEGORY_USERS', 6], ['CATEGORY_UNKNOWN', 2], ['CATEGORY_GROUPS', 6], ['CATEGORY_POLICIES', 2],
    ['CATEGORY_SERVICES', 2], ['CATEGORY_ORGANIZATIONAL_UNITS', 2],
  ]);
});
