/**
 * writeLdif: a Sink writing LDIF to a file or standard output (`-`). A file is written as `FILE.partial` and renamed
 * to FILE when the run completes, so a FILE that exists is always complete; an aborted run leaves the `.partial`.
 * Writes a batch at a time; at most two batches wait on the stream (a slow disk or pipe never makes memory grow).
 */
import { createWriteStream, fsync, renameSync, statSync, truncateSync, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { LdapflowError } from '../errors.js';
import type { Batch } from '../entry.js';
import type { Sink, SinkContext } from '../stage.js';
import { formatRecordsToBuffers } from './ldif-format.js';

export { formatRecord, formatAttr, formatComment, fold } from './ldif-format.js';

export interface WriteLdifOptions {
  /** A path, or `-` for standard output. */
  output: string;
  /** A writable to use instead (library use, tests); `output` is then only its name. */
  stream?: Writable;
  /** Fold column, default 76; 0 disables folding. */
  wrap?: number;
  /** Write a `version: 1` line first (default true). */
  version?: boolean;
  /** Write straight to the path instead of PATH.partial + rename (default false). */
  direct?: boolean;
  /** Resume (src/state/checkpoint.ts): cut the existing PATH.partial back to this many bytes and append to it. */
  resumeAt?: number;
}

/**
 * Everything handed to a stream so far is on disk: flushed (the callback of an empty write comes after those of every
 * earlier write), then, for a file stream when `fsyncToo`, fsynced. Writing may go on meanwhile.
 */
export async function flushAndFsync(o: Writable, fsyncToo = true): Promise<void> {
  await new Promise<void>((resolve, reject) => o.write('', (err) => (err ? reject(err) : resolve())));
  const fd = (o as unknown as { fd?: number | null }).fd;
  if (fsyncToo && typeof fd === 'number') await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export function writeLdif(opts: WriteLdifOptions): Sink & { readonly path: string; bytesWritten(): number; sync(): Promise<number> } {
  if (!opts || typeof opts.output !== 'string' || opts.output === '') throw new LdapflowError('OPTION_INVALID', 'writeLdif: option "output" must be a path or "-"');
  const wrap = opts.wrap ?? 76;
  const toStdout = opts.output === '-' && !opts.stream;
  const partial = !toStdout && !opts.stream && !opts.direct ? opts.output + '.partial' : opts.output;
  let out: Writable | undefined;
  let ctx: SinkContext;
  let failed: Error | undefined;
  let bytes = 0;
  let headerDone = false;

  const fail = (err: Error): LdapflowError =>
    new LdapflowError('LDIF_WRITE_FAILED', `cannot write ${toStdout ? 'standard output' : opts.output}: ${(err as NodeJS.ErrnoException).code === 'EPIPE' ? 'the reader closed the pipe' : err.message}`, { file: opts.output });

  /** Settles when the stream is done with the texts of the previous write() (see write). */
  let previous: Promise<void> = Promise.resolve();

  /**
   * Hand `texts` to the stream, several together (one writev); resolves when there is room for more: at once below the
   * stream's high-water mark, else when the stream is done with the texts of the write before (a batch is usually
   * more than the mark). So the next batch is made while this one is written, and at most two batches wait on the
   * disk. Waiting for this batch's own drain left the main thread idle while each batch was written (at the end of a
   * 1M-entry run, 0.2 of the 1.2 s it spent alone writing the held groups). `written` runs once the stream is done
   * with them.
   */
  function write(texts: Array<string | Uint8Array>, written?: () => void): Promise<void> {
    if (failed) return Promise.reject(fail(failed));
    const o = out!;
    const before = previous;
    let flushed!: () => void;
    previous = new Promise<void>((res) => { flushed = res; });
    return new Promise((resolve, reject) => {
      const done = (err?: Error | null) => { if (err) { failed = err; reject(fail(err)); } };
      const last = (err?: Error | null) => { written?.(); flushed(); done(err); };
      let ok = true;
      if (texts.length > 1) o.cork();
      for (let i = 0; i < texts.length; i++) {
        const t = texts[i];
        bytes += typeof t === 'string' ? Buffer.byteLength(t) : t.byteLength;
        ok = o.write(t, i === texts.length - 1 ? last : done);
      }
      if (texts.length > 1) o.uncork();
      if (ok) resolve();
      else void before.then(() => (failed ? reject(fail(failed)) : resolve()));
    });
  }

  async function end(): Promise<void> {
    if (!out) return;
    const o = out;
    out = undefined;
    if (toStdout) {
      await new Promise<void>((resolve) => (o.writableNeedDrain ? o.once('drain', () => resolve()) : resolve()));
      return;
    }
    if (opts.stream) { await new Promise<void>((resolve) => o.end(resolve)); return; }
    const ws = o as WriteStream;
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.end(() => resolve());
    });
  }

  return {
    kind: 'ldif',
    path: opts.output,
    textWrap: wrap,
    bytesWritten: () => bytes,
    async open(c: SinkContext) {
      ctx = c;
      if (toStdout) out = process.stdout;
      else if (opts.stream) out = opts.stream;
      else {
        let flags = 'w';
        if (opts.resumeAt) {
          let size = -1;
          try { size = statSync(partial).size; } catch { /* missing */ }
          if (size < opts.resumeAt) throw new LdapflowError('STATE_OUTPUT_SHORT', `cannot resume: ${partial} is ${size < 0 ? 'missing' : `${size} bytes`}, the checkpoint needs ${opts.resumeAt}`, { file: opts.output });
          truncateSync(partial, opts.resumeAt);
          bytes = opts.resumeAt;
          headerDone = bytes > 0;
          flags = 'a';
        }
        const ws = createWriteStream(partial, { highWaterMark: 1 << 20, flags });
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', (err) => reject(new LdapflowError('LDIF_OPEN_FAILED', `cannot write ${partial}: ${err.message}`, { file: opts.output })));
        });
        out = ws;
      }
      out.on('error', (err) => { failed = err; });
    },
    async write(batch: Batch) {
      const recs = batch.records;
      // The records' text: written by a worker already, or here the same way (text entries' text as it is, in place).
      const texts = batch.ldif ? [batch.ldif] : formatRecordsToBuffers(recs, wrap);
      let size = 0;
      for (const t of texts) size += t.byteLength;
      let head = '';
      if (!headerDone) {
        headerDone = true;
        if (opts.version !== false) head = 'version: 1\n';
      }
      // The separator before the text when anything came before it.
      if (size > 0 && (bytes > 0 || head)) head += '\n';
      if (head) await write([head]);
      if (size === 0) batch.release?.();
      else if (opts.stream && batch.release) {
        // A caller's stream may hold the chunk past its callback (a PassThrough hands the same buffer to its
        // reader later): it gets a copy, and the shared buffer goes back at once.
        const copies = texts.map((t) => Buffer.from(t));
        batch.release();
        await write(copies);
      } else await write(texts, batch.release);
      ctx.acknowledge(batch.seq, recs.length);
    },
    /**
     * Everything handed to the stream before this call is on disk (flushed, then fsynced); resolves to the output's
     * length at this call, read before the first await: writes may go on while it runs (a checkpoint in the
     * background, src/pipeline.ts), and the fsync covers at least that many bytes.
     */
    async sync() {
      const n = bytes;
      const o = out;
      if (!o) return n;
      if (failed) throw fail(failed);
      try {
        await flushAndFsync(o, !toStdout && !opts.stream);
      } catch (err) {
        throw fail(err as Error);
      }
      return n;
    },
    async close() {
      if (!headerDone && opts.version !== false) { headerDone = true; await write(['version: 1\n']); }
      await end();
      // A write that failed after its batch was let go (write() resolves before the stream is done) fails the close:
      // the output is not renamed as complete.
      if (failed) throw fail(failed);
      if (partial !== opts.output) renameSync(partial, opts.output);
    },
    async abort() {
      try { await end(); } catch { /* already failing */ }
    },
  };
}
