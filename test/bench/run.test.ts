/**
 * bench/run.ts bestOf: rows measured in several rounds are reported by their fastest run, with every run's time in
 * the note and the highest peak RSS.
 */
import t from 'tap';
import { bestOf } from '../../bench/run.js';

t.test('bestOf keeps each row\'s fastest run, every time in its note, the highest RSS; skipped stays skipped', async (t) => {
  const row = (name: string, seconds: number, rssMb: number, note = '') => ({ size: 1000, name, seconds, entriesPerSec: 1000 / seconds, mbPerSec: 1 / seconds, rssMb, records: 1000, note });
  const rounds = [
    [row('python-ldap parse', 65.7, 18), row('ldapflow pipeline --workers 3', 17.4, 364, 'written 990'), { size: 1000, name: 'x', note: 'skipped: missing', skipped: true }],
    [row('python-ldap parse', 64.1, 19), row('ldapflow pipeline --workers 3', 16.2, 351, 'written 990'), { size: 1000, name: 'x', note: 'skipped: missing', skipped: true }],
    [row('python-ldap parse', 66.0, 17), row('ldapflow pipeline --workers 3', 16.9, 372, 'written 990')],
  ];
  const out = bestOf(rounds);
  t.equal(out.length, 3, 'one row per row of the first round');
  t.equal(out[0].seconds, 64.1, 'python-ldap: its fastest run');
  t.equal(out[0].note, 'best of 3: 65.70 / 64.10 / 66.00 s', 'every run in the note');
  t.equal(out[0].rssMb, 19, 'the highest peak RSS of the runs');
  t.equal(out[1].seconds, 16.2, 'the pipeline: its fastest run');
  t.equal(out[1].entriesPerSec, 1000 / 16.2, 'the rates are the fastest run\'s');
  t.equal(out[1].rssMb, 372, 'RSS from another run than the time when that one was higher');
  t.equal(out[1].note, 'best of 3: 17.40 / 16.20 / 16.90 s; written 990', 'its own note after the times');
  t.equal(out[2].skipped, true, 'a row skipped in every round stays skipped');
  t.same(bestOf([rounds[0]]), rounds[0], 'one round: the rows as they are');
});
