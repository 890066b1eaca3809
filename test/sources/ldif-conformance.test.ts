/**
 * The peer LDIF corpus (../shared/conformance/ldif: python-ldap, go-ldap/ldif, perl-ldap, UnboundID LDAP SDK), read in
 * place, never copied. Every case must pass, except the ones where peers disagree and ldapflow chose otherwise: those
 * are listed in CHOSEN with the behaviour we assert instead (README, "LDIF conformance").
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCase } from '../support/conformance.js';
import { parseLdifText } from '../../src/sources/ldif-parser.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = process.env.LDAPFLOW_CONFORMANCE ?? resolve(here, '../../../shared/conformance/ldif');

// Peer disagreement 1 (trailing spaces): UnboundID rejects by default; RFC 2849 SAFE-STRING keeps them and python-ldap
// does too. A migration must not change or refuse data, so ldapflow keeps trailing spaces in values and DNs and
// tolerates them after keywords (changetype, "-").
const CHOSEN: Record<string, (bytes: Buffer) => void> = {
  'unboundid-ldapsdk/037-trailing-space-error-dn.ldif': (b) => {
    const out = parseLdifText(b, { mode: 'entries' });
    t.equal(out.rejects.length, 0);
    t.ok(out.records[0].dn.endsWith(' '), 'trailing space kept in the DN as read');
  },
  'unboundid-ldapsdk/038-trailing-space-error-attr-value.ldif': (b) => {
    const out = parseLdifText(b, { mode: 'entries' });
    t.equal(out.rejects.length, 0);
    const e = out.records[0];
    t.ok(e.kind === 'entry' && [...e.attrs.values()].some((a) => a.values.some((v) => typeof v === 'string' && v.endsWith(' '))), 'value keeps its trailing space');
  },
  'unboundid-ldapsdk/040-trailing-space-error-changetype.ldif': (b) => {
    const out = parseLdifText(b, { mode: 'changes' });
    t.equal(out.rejects.length, 0);
    t.equal(out.records[0].kind, 'change');
  },
  'unboundid-ldapsdk/041-trailing-space-error-dash-line.ldif': (b) => {
    const out = parseLdifText(b, { mode: 'changes' });
    t.equal(out.rejects.length, 0);
    t.equal(out.records[0].kind, 'change');
  },
};

if (!existsSync(root)) {
  t.comment(`conformance corpus not found at ${root}: skipped (set LDAPFLOW_CONFORMANCE to its path)`);
  t.pass('skipped: no corpus');
} else {
  const sources = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  let total = 0;
  for (const src of sources) {
    t.test(src, async (t) => {
      for (const f of readdirSync(join(root, src)).filter((f) => f.endsWith('.ldif')).sort()) {
        total++;
        const id = `${src}/${f}`;
        const chosen = CHOSEN[id];
        if (chosen) {
          t.test(`${id} (peers disagree: ldapflow's choice)`, async () => chosen(readFileSync(join(root, src, f))));
          continue;
        }
        const r = runCase(join(root, src, f), join(root, src, f.replace(/\.ldif$/, '.expect.json')));
        t.ok(r.ok, id, { diagnostic: !r.ok, detail: r.detail });
      }
    });
  }
  t.teardown(() => t.comment(`${total} corpus cases`));
}
