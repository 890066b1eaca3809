/**
 * Using ldapflow from code: read the bundled OID export, re-base it under a new suffix with a custom map stage,
 * write LDIF, and check the result. Run: `npx tsc -p . && node dist/samples/library-example.js` (prints "ok").
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDn, isWithin, mapStage, ndnOf, parseDn, parseLdifText, readLdif, run, writeLdif } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const input = join(here, '..', '..', 'samples', 'oid-export.ldif');
const out = join(mkdtempSync(join(tmpdir(), 'ldapflow-sample-')), 'rebased.ldif');

const from = 'dc=example,dc=com';
const to = parseDn('dc=example,dc=org');
const rebase = mapStage('rebase', (rec) => {
  if (!isWithin(ndnOf(rec), from)) return { code: 'REBASE_OUTSIDE', message: `not under ${from}` };
  const rdns = parseDn(rec.dn);
  return { ...rec, dn: formatDn([...rdns.slice(0, rdns.length - 2), ...to]), ndn: undefined };
});

const summary = await run({
  source: readLdif({ input }),
  stages: [rebase],
  sink: writeLdif({ output: out }),
  rejectFile: out + '.rejects.ldif',
});

const written = parseLdifText(readFileSync(out));
const problems: string[] = [];
if (summary.rejected !== 0 || summary.read !== written.records.length) problems.push(`read ${summary.read} but wrote ${written.records.length} and rejected ${summary.rejected}`);
if (written.records.some((r) => !/dc=example,dc=org$/i.test(r.dn))) problems.push('a DN was not re-based');
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`ok: ${summary.written} entries re-based to dc=example,dc=org in ${out}`);
