/**
 * A replay lane of tc-top -r (a worker thread, started by replay-lanes.ts): runs the frames of its
 * ring, in order, through the replay program with a runner of its own, until told to stop. The ring's
 * layout and control words are described in replay-lanes.ts.
 */
import { workerData } from 'node:worker_threads';
import { BpfError } from '../ffi/errors.js';
import { Ctl, EGRESS, RECORD_HEAD, RING_BYTES, SKIP, State } from './replay-lanes.js';
import { FRAME_AT, type Refused, ReplayRunner, SHORT_FRAME } from './replay-runner.js';

const { ctl, data, refused } = workerData as { ctl: Int32Array; data: SharedArrayBuffer; refused: Float64Array };
const words = new Int32Array(data);
const bytes = Buffer.from(data);

/** The runner's refused frames, kept where the main thread reads them. */
const shared: Refused = {
  get packetsIn() { return refused[0]!; },
  set packetsIn(v) { refused[0] = v; },
  get packetsOut() { return refused[1]!; },
  set packetsOut(v) { refused[1] = v; },
  get bytesIn() { return refused[2]!; },
  set bytesIn(v) { refused[2] = v; },
  get bytesOut() { return refused[3]!; },
  set bytesOut(v) { refused[3] = v; },
};

let runner: ReplayRunner | undefined;
/** Bytes of the ring run so far (the shared TAIL is this modulo 2^32). */
let tail = 0;

/** Copies the frame at `at` in the ring to the runner. */
function copyFrame(runner: ReplayRunner, at: number, len: number): void {
  if (len > SHORT_FRAME) {
    bytes.copy(runner.bytes, FRAME_AT, at, at + len);
    return;
  }
  const to = runner.words;
  for (let i = 0, from = at >> 2, into = FRAME_AT >> 2, n = (len + 3) >> 2; i < n; i++) to[into + i] = words[from + i]!;
}

/** Runs the frames published so far; false when told to stop. */
function runPublished(head: number): boolean {
  runner ??= new ReplayRunner(Atomics.load(ctl, Ctl.PROG_IN), Atomics.load(ctl, Ctl.PROG_OUT), Atomics.load(ctl, Ctl.XDP) === 1, shared);
  while ((tail | 0) !== head) {
    if (Atomics.load(ctl, Ctl.STATE) !== State.RUN) return false;
    const off = tail % RING_BYTES;
    const w = off >> 2;
    const first = words[w]!;
    if (first === SKIP) {
      tail += RING_BYTES - off;
      continue;
    }
    const len = first & (EGRESS - 1);
    copyFrame(runner, off + RECORD_HEAD, len);
    runner.run(len, words[w + 1]! >>> 0, (words[w + 3]! >>> 0) * 4294967296 + (words[w + 2]! >>> 0), (first & EGRESS) !== 0);
    tail += RECORD_HEAD + ((len + 3) & ~3);
    Atomics.store(ctl, Ctl.TAIL, tail | 0);
    const wake = Atomics.load(ctl, Ctl.WAKE);
    if (wake !== 0 && ((Atomics.load(ctl, Ctl.HEAD) - (tail | 0)) | 0) < wake) {
      Atomics.store(ctl, Ctl.WAKE, 0);
      Atomics.notify(ctl, Ctl.TAIL);
    }
  }
  return true;
}

function main(): void {
  for (;;) {
    const seq = Atomics.load(ctl, Ctl.SEQ);
    if (Atomics.load(ctl, Ctl.STATE) !== State.RUN) return;
    const head = Atomics.load(ctl, Ctl.HEAD);
    if (head === (tail | 0)) Atomics.wait(ctl, Ctl.SEQ, seq);
    else if (!runPublished(head)) return;
  }
}

try {
  main();
  Atomics.compareExchange(ctl, Ctl.STATE, State.STOP, State.STOPPED);
} catch (err) {
  // The main thread rethrows it: errno of a failed test run, or the worker's error event.
  if (!(err instanceof BpfError)) throw err;
  Atomics.store(ctl, Ctl.ERRNO, err.errno);
  Atomics.store(ctl, Ctl.STATE, State.FAILED);
} finally {
  runner?.free();
  Atomics.notify(ctl, Ctl.STATE);
  Atomics.notify(ctl, Ctl.TAIL);
}
