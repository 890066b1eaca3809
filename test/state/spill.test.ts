/**
 * The spill's append-only file for records kept in order (src/state/spill.ts putQueued / takeQueuedOne / takeQueued):
 * records come back by ascending number whatever the order they were put in, a record put again under its number
 * replaces it, records larger than the staging buffer and than the read window come back whole, and a damaged file
 * is a readable error, not garbage.
 */
import t from 'tap';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { makeEntry, type Entry } from '../../src/entry.js';
import { formatRecord } from '../../src/sinks/ldif-format.js';
import { Spill } from '../../src/state/spill.js';

function entry(i: number, size = 50): Entry {
  return makeEntry(`cn=e${i},dc=example,dc=com`, [['objectClass', 'top'], ['description', `v${i} ` + 'x'.repeat(size)]]);
}

async function all(sp: Spill): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for await (const chunk of sp.takeQueued(7)) for (const [n, r] of chunk) out.push([n, formatRecord(r)]);
  return out;
}

t.test('records come back by number, replaced ones in their place, large ones whole', async (t) => {
  const dir = t.testdir();
  const sp = await Spill.open(dir);
  const want = new Map<number, string>();
  // Out of order, and a few larger than the 1 MiB staging buffer and the 4 MiB read window.
  for (const i of [5, 1, 9, 3, 0, 7, 2, 8, 6, 4, 12, 11, 10]) {
    const e = entry(i, i === 3 ? 5 << 20 : i === 8 ? 1 << 20 : 50 + i * 1000);
    sp.putQueued(i, e);
    want.set(i, formatRecord(e));
  }
  t.equal(formatRecord(sp.takeQueuedOne(9)!), want.get(9), 'one taken by its number');
  t.equal(sp.takeQueuedOne(9), undefined, 'and gone');
  want.delete(9);
  const again = entry(100);
  sp.putQueued(2, again); // put again under 2: replaces it, keeps its place
  want.set(2, formatRecord(again));
  const got = await all(sp);
  t.same(got.map(([n]) => n), [...want.keys()].sort((a, b) => a - b), 'by ascending number');
  t.same(got.map(([, s]) => s), [...want.keys()].sort((a, b) => a - b).map((n) => want.get(n)), 'each record whole');
  t.same(await all(sp), [], 'taken once');
  await sp.close();
  t.same(readdirSync(dir), [], 'the store is removed on close');
});

t.test('a file shorter than what was written: a readable error', async (t) => {
  const dir = t.testdir();
  const sp = await Spill.open(dir);
  for (let i = 0; i < 20; i++) sp.putQueued(i, entry(i, 100_000));
  const err = await (async () => {
    try {
      const first = sp.takeQueuedOne(0); // writes the staged records out
      t.ok(first, 'the first read back');
      const [store] = readdirSync(dir);
      truncateSync(join(dir, store, 'queue'), 500_000);
      await all(sp);
    } catch (e) {
      return e as { code?: string; message: string };
    }
    return undefined;
  })();
  t.equal(err?.code, 'STATE_SPILL_READ');
  t.match(err?.message, /shorter than what was written/);
  await sp.close();
});
