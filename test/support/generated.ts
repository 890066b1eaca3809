/**
 * A generated OID-style export (bench/gen.ts, 5% of entries before their parent) in a temporary directory of its own,
 * removed when the test file ends: the input of the kill-and-resume tests.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export function generatedExport(prefix: string, entries = 20000, seed = 5): { dir: string; input: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'in.ldif');
  const gen = resolve('dist/bench/gen.js');
  const g = spawnSync(process.execPath, [gen, '--entries', String(entries), '--out', input, '--seed', String(seed), '--out-of-order', '0.05'], { encoding: 'utf8' });
  if (g.status !== 0) throw new Error(g.stderr);
  return { dir, input };
}
