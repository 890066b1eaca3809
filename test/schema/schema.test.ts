import t from 'tap';
import { Schema, mergeSchemas, schemaFromDescriptions } from '../../src/schema/schema.js';
import { builtinSchema } from '../../src/schema/load.js';

const s = new Schema(builtinSchema());

t.test('attribute by name, alias, OID, options, any case', async (t) => {
  t.equal(s.attr('cn')?.oid, '2.5.4.3');
  t.equal(s.attr('commonName')?.oid, '2.5.4.3');
  t.equal(s.attr('COMMONNAME')?.oid, '2.5.4.3');
  t.equal(s.attr('2.5.4.3')?.names[0], 'cn');
  t.equal(s.attr('OID.2.5.4.3')?.names[0], 'cn');
  t.equal(s.attr('cn;lang-ja')?.names[0], 'cn', 'options are ignored');
  t.equal(s.attrKey('userid'), 'uid');
  t.equal(s.attr('orclGUID'), undefined);
});

t.test('classes: spelling, kind, superclass chain, MUST/MAY of a set with inheritance', async (t) => {
  t.equal(s.className('INETORGPERSON'), 'inetOrgPerson');
  t.equal(s.className('2.5.6.5'), 'organizationalUnit');
  t.equal(s.kind('top'), 'ABSTRACT');
  t.equal(s.kind('posixAccount'), 'AUXILIARY');
  t.same(s.superclassChain('inetOrgPerson').map((o) => o.names[0]), ['inetOrgPerson', 'organizationalPerson', 'person', 'top']);
  t.ok(s.isSubclassOf('inetOrgPerson', 'person'));
  t.notOk(s.isSubclassOf('person', 'inetOrgPerson'));
  const { must, may } = s.attributesOf(['inetOrgPerson', 'posixAccount']);
  t.same([...must].sort(), ['cn', 'gidnumber', 'homedirectory', 'objectclass', 'sn', 'uid', 'uidnumber']);
  t.ok(may.has('mail') && may.has('telephonenumber') && may.has('loginshell'));
  t.notOk(may.has('uid'), 'a MUST is not also a MAY');
});

t.test('operational, single-value, syntax inherited through SUP', async (t) => {
  t.ok(s.isOperational('createTimestamp'));
  t.ok(s.isOperational('supportedControl'), 'dSAOperation usage');
  t.notOk(s.isOperational('cn'));
  t.ok(s.isSingleValue('c'));
  t.notOk(s.isSingleValue('cn'));
  t.equal(s.syntaxOf('cn'), '1.3.6.1.4.1.1466.115.121.1.15', 'cn inherits the syntax of name');
  t.equal(s.syntaxOf('member'), '1.3.6.1.4.1.1466.115.121.1.12', 'member inherits DN syntax of distinguishedName');
  t.equal(s.equalityOf('sn'), 'caseIgnoreMatch');
});

t.test('the built-in default covers RFC 4512, 4519, 4524, 2798, 2307', async (t) => {
  for (const oc of ['top', 'alias', 'extensibleObject', 'subschema', 'person', 'organizationalUnit', 'groupOfUniqueNames',
    'domain', 'account', 'inetOrgPerson', 'posixAccount', 'posixGroup', 'shadowAccount', 'dcObject', 'uidObject']) {
    t.ok(s.objectClass(oc), oc);
  }
  for (const at of ['objectClass', 'entryUUID', 'modifiersName', 'dc', 'mail', 'jpegPhoto', 'uidNumber', 'memberUid']) t.ok(s.attr(at), at);
});

t.test('merge: a later schema overrides by OID, keeps the rest; raw descriptions with a bad one reported', async (t) => {
  const a = schemaFromDescriptions(["( 1.1.1 NAME 'x' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )", "( 1.1.2 NAME 'y' )"], ["( 1.1.9 NAME 'c1' MAY x )"], 'a');
  const warnings: string[] = [];
  const b = schemaFromDescriptions(["( 1.1.1 NAME ( 'x' 'ex' ) SINGLE-VALUE )", "( NAME 'broken' )"], [], 'b', (e) => warnings.push(e.code));
  t.same(warnings, ['SCHEMA_PARSE']);
  const m = new Schema(mergeSchemas([a, b]));
  t.equal(m.data.attributeTypes.length, 2);
  t.ok(m.isSingleValue('x'), 'later definition wins');
  t.equal(m.attr('ex')?.oid, '1.1.1');
  t.ok(m.attr('y'));
  t.same(m.data.sources, ['a', 'b']);
  t.throws(() => schemaFromDescriptions(["( NAME 'broken' )"], []), { code: 'SCHEMA_PARSE' }, 'without a handler the error is thrown');
});

t.test('SchemaData is plain data: survives JSON and structured clone', async (t) => {
  const data = builtinSchema();
  const viaJson = new Schema(JSON.parse(JSON.stringify(data)));
  const viaClone = new Schema(structuredClone(data));
  t.same(viaJson.attributesOf(['inetOrgPerson']), s.attributesOf(['inetOrgPerson']));
  t.same(viaClone.superclassChain('posixGroup').map((o) => o.oid), s.superclassChain('posixGroup').map((o) => o.oid));
});
