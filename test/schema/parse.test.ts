import t from 'tap';
import { parseAttributeType, parseObjectClass } from '../../src/schema/parse.js';
import { LdapflowError } from '../../src/errors.js';

t.test('attribute type: every field of RFC 4512 4.1.2', async (t) => {
  const at = parseAttributeType("( 2.5.18.1 NAME 'createTimestamp' DESC 'time which object was created' OBSOLETE SUP name " +
    "EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SUBSTR caseIgnoreSubstringsMatch " +
    "SYNTAX 1.3.6.1.4.1.1466.115.121.1.24{32} SINGLE-VALUE COLLECTIVE NO-USER-MODIFICATION USAGE directoryOperation " +
    "X-ORIGIN ( 'RFC 4512' 'test' ) X-SCHEMA-FILE '00-core.ldif' )");
  t.same(at, {
    oid: '2.5.18.1', names: ['createTimestamp'], desc: 'time which object was created', obsolete: true, sup: 'name',
    equality: 'generalizedTimeMatch', ordering: 'generalizedTimeOrderingMatch', substr: 'caseIgnoreSubstringsMatch',
    syntax: '1.3.6.1.4.1.1466.115.121.1.24', syntaxLen: 32, singleValue: true, collective: true, noUserModification: true,
    usage: 'directoryOperation', ext: { 'X-ORIGIN': ['RFC 4512', 'test'], 'X-SCHEMA-FILE': ['00-core.ldif'] },
  });
});

t.test('attribute type quirks: no spaces, quoted OIDs, odd case, bound apart, names that read like keywords', async (t) => {
  const a = parseAttributeType("(2.5.4.3 name('cn' 'commonName')sup name)");
  t.same(a.names, ['cn', 'commonName']);
  t.equal(a.sup, 'name', '`SUP name` is the type name, not the NAME keyword');
  const b = parseAttributeType("( '1.2.3.4' NAME 'x' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' {128} single-value usage DSAOPERATION )");
  t.equal(b.oid, '1.2.3.4');
  t.equal(b.syntax, '1.3.6.1.4.1.1466.115.121.1.15');
  t.equal(b.syntaxLen, 128);
  t.equal(b.singleValue, true);
  t.equal(b.usage, 'dSAOperation');
  const c = parseAttributeType("( myAttr-oid NAME 'myAttr' DESC 'it\\27s' X-UNKNOWN-FLAG FOO bar SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 )");
  t.equal(c.oid, 'myAttr-oid', 'a name-like OID is kept');
  t.equal(c.desc, "it's", 'dstring escape \\27');
  t.equal(c.syntax, '1.3.6.1.4.1.1466.115.121.1.27', 'unknown keyword skipped with its argument');
  const d = parseAttributeType("( 1.2.3.5 NAME 'noClose' EQUALITY caseIgnoreMatch");
  t.equal(d.equality, 'caseIgnoreMatch', 'a missing closing parenthesis is tolerated');
});

t.test('object class: kinds, lists, AUXILLARY, $ without spaces, quoted list members', async (t) => {
  const oc = parseObjectClass("( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' DESC 'RFC2798' SUP organizationalPerson STRUCTURAL " +
    'MAY ( audio $ businessCategory$carLicense $departmentNumber ) )');
  t.same(oc, {
    oid: '2.16.840.1.113730.3.2.2', names: ['inetOrgPerson'], desc: 'RFC2798', sup: ['organizationalPerson'], kind: 'STRUCTURAL',
    must: [], may: ['audio', 'businessCategory', 'carLicense', 'departmentNumber'],
  });
  const aux = parseObjectClass("( 2.16.840.1.113894.1.2.1 NAME 'orclUserV2' SUP ( top ) AUXILLARY MUST ( 'cn' ) MAY(orclIsEnabled$orclGUID))");
  t.equal(aux.kind, 'AUXILIARY', 'AUXILLARY (misspelt, as OID ships it) is AUXILIARY');
  t.same(aux.sup, ['top']);
  t.same(aux.must, ['cn']);
  t.same(aux.may, ['orclIsEnabled', 'orclGUID']);
  t.equal(parseObjectClass("( 2.5.6.0 NAME 'top' abstract MUST objectClass )").kind, 'ABSTRACT');
  t.equal(parseObjectClass("( 1.1 NAME 'x' )").kind, 'STRUCTURAL', 'STRUCTURAL is the default');
  t.same(parseObjectClass("( 1.2 NAME 'y' SUP ( a $ b ) )").sup, ['a', 'b'], 'several superclasses');
});

t.test('a description without an OID is a recoverable SCHEMA_PARSE error', async (t) => {
  t.throws(() => parseAttributeType("( NAME 'x' )"), { code: 'SCHEMA_PARSE', recoverable: true, constructor: LdapflowError });
  t.throws(() => parseObjectClass(''), { code: 'SCHEMA_PARSE' });
});
