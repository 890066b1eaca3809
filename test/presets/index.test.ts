import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPreset, mergePresets, validatePreset } from '../../src/presets/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ldapflow-preset-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('the built-in oid-to-oud preset', async (t) => {
  const p = await loadPreset('oid-to-oud');
  t.equal(p.name, 'oid-to-oud');
  for (const a of ['orclGUID', 'orclNormDN', 'orclPassword', 'authPassword;orclCommonPwd', 'authPassword;oid', 'orclACI']) t.ok(p.removeAttributes?.includes(a), a);
  for (const c of ['orclNetService', 'orclApplicationEntity', 'orclReferenceObject']) t.ok(p.excludeObjectClasses?.includes(c), c);
  t.same(p.valueMaps?.orclIsEnabled.values, { ENABLED: null, DISABLED: 'TRUE' });
  t.equal(p.danglingReferences, 'remove');
});

t.test('a user file extends a preset: lists merged, "!" takes back, maps merged, scalars replaced', async (t) => {
  const f = join(dir, 'mine.json');
  writeFileSync(f, JSON.stringify({
    extends: 'oid-to-oud', name: 'mine', removeAttributes: ['orclFoo', '!orclIsVisible', 'ORCLGUID'],
    mapObjectClasses: { orclContainer: 'organizationalRole' }, danglingReferences: 'keep',
    valueMaps: { orclIsEnabled: { to: 'description', values: { DISABLED: 'disabled' }, targetMissing: 'reject' } },
  }));
  const p = await loadPreset(f);
  t.equal(p.name, 'mine');
  t.ok(p.removeAttributes?.includes('orclFoo'));
  t.notOk(p.removeAttributes?.includes('orclIsVisible'), 'taken back with !');
  t.equal(p.removeAttributes?.filter((a) => a.toLowerCase() === 'orclguid').length, 1, 'no duplicate');
  t.ok(p.excludeObjectClasses?.includes('orclNetService'), 'inherited');
  t.same(p.mapObjectClasses, { orclContainer: 'organizationalRole' });
  t.equal(p.valueMaps?.orclIsEnabled.to, 'description', 'user map wins');
  t.equal(p.danglingReferences, 'keep');
  t.equal(p.extends, undefined);
  const g = join(dir, 'grand.json');
  writeFileSync(g, JSON.stringify({ extends: './mine.json', removeAttributes: ['x'] }));
  const q = await loadPreset(g);
  t.ok(q.removeAttributes?.includes('orclFoo') && q.removeAttributes.includes('x') && q.removeAttributes.includes('orclGUID'), 'chains resolve relative paths');
  t.same(mergePresets({ removeAttributes: ['a'] }, { removeAttributes: ['!A', 'b'] }).removeAttributes, ['b']);
});

t.test('errors name the field or the file', async (t) => {
  await t.rejects(loadPreset('nope'), { code: 'PRESET_UNKNOWN', message: /unknown preset "nope"/ });
  await t.rejects(loadPreset(join(dir, 'missing.json')), { code: 'PRESET_READ' });
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{ "removeAttributes": "orclGUID" }');
  await t.rejects(loadPreset(bad), { code: 'PRESET_INVALID', message: /"removeAttributes" must be a list of strings/ });
  writeFileSync(bad, '{ "removeAtributes": [] }');
  await t.rejects(loadPreset(bad), { code: 'PRESET_INVALID', message: /unknown field "removeAtributes"/ });
  writeFileSync(bad, '{ nope');
  await t.rejects(loadPreset(bad), { code: 'PRESET_INVALID', message: /not valid JSON/ });
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  writeFileSync(a, JSON.stringify({ extends: './b.json' }));
  writeFileSync(b, JSON.stringify({ extends: './a.json' }));
  await t.rejects(loadPreset(a), { code: 'PRESET_INVALID', message: /"extends" loops/ });
  t.throws(() => validatePreset({ valueMaps: { x: { values: {}, otherValues: 'maybe' } } }, 'p'), { message: /otherValues/ });
});
