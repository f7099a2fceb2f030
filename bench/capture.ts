/**
 * `tc-top -r`: frames per second from a capture of 1M frames, through the real binary (start-up
 * included), with the TC program semantics (the default) and with XDP; side by side, alternating,
 * with BEFORE, the last build that ran one BPF_PROG_TEST_RUN per frame (on replay lanes, a worker
 * thread per CPU), checked out into a temporary worktree and built there. The capture is written
 * here: pcap, Ethernet, 10,000 flows of the bench's two frame shapes (TCP/IPv4 64 B and UDP/IPv6
 * with three extension headers, 100 B) alternating, 10 µs apart (10 s of capture time). What bounds
 * it is measured too: a test run's cost with one frame and with a full batch, and the start-up (a
 * capture of one frame).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelCollector } from '../src/collectors/kernel-collector.js';
import { ReplayBatch } from '../src/collectors/replay-batch.js';
import { benchFrame } from './frames.js';
import { median, nowNs, progress, run, worktreeAt } from './lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist', 'bin', 'tc-top.js');
const HOOKS = ['tc', 'xdp'] as const;
/** One BPF_PROG_TEST_RUN per frame, on replay lanes: the build before batches. */
export const BEFORE = '6f50d6b';

export interface CaptureRow {
  readonly hook: 'tc' | 'xdp';
  /** The build: this one, or BEFORE. */
  readonly build: 'now' | 'before';
  readonly seconds: number;
  readonly fps: number;
  /** Frames the table counted (every frame, or the run failed). */
  readonly counted: number;
}

export interface CaptureResult {
  readonly frames: number;
  readonly flows: number;
  readonly fileBytes: number;
  readonly before: string;
  readonly rows: readonly CaptureRow[];
  /** µs per test run in a tight loop: a batch of one frame, and a full batch of `full` frames. */
  readonly runUs: { readonly one: number; readonly batch: number; readonly full: number };
  /** Seconds from spawn to exit for a capture of one frame (median of 3). */
  readonly startupS: number;
  readonly error?: string;
}

function writeCapture(path: string, frames: number, flows: number): void {
  const fd = openSync(path, 'w');
  try {
    const head = Buffer.alloc(24);
    head.writeUInt32LE(0xa1b2c3d4, 0);
    head.writeUInt16LE(2, 4);
    head.writeUInt16LE(4, 6);
    head.writeUInt32LE(262144, 16);
    head.writeUInt32LE(1, 20);
    writeSync(fd, head);
    const shapes = Array.from({ length: flows }, (_, i) => benchFrame(i % 2 ? 'udp6' : 'tcp4', i));
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    let at = 0;
    for (let i = 0; i < frames; i++) {
      const f = shapes[i % flows]!;
      if (at + 16 + f.length > chunk.length) {
        writeSync(fd, chunk, 0, at);
        at = 0;
      }
      const us = i * 10;
      chunk.writeUInt32LE(1_700_000_000 + Math.floor(us / 1e6), at);
      chunk.writeUInt32LE(us % 1e6, at + 4);
      chunk.writeUInt32LE(f.length, at + 8);
      chunk.writeUInt32LE(f.length, at + 12);
      f.copy(chunk, at + 16);
      at += 16 + f.length;
    }
    writeSync(fd, chunk, 0, at);
  } finally {
    closeSync(fd);
  }
}

/** µs per test run of the batch program, in a tight loop on this thread: `n` TCP frames of 64 bytes (hits after the first run). */
function runCost(n: number, runs: number): number {
  const kernel = KernelCollector.start({ interfaces: [], hook: 'xdp', xdpMode: 'auto', map: 'mmap', maxFlows: 65536, attach: false, handshakes: true, object: 'replay' });
  const batch = new ReplayBatch(kernel.programFd('batch'));
  try {
    const f = benchFrame('tcp4', 1);
    const fill = () => {
      for (let i = 0; i < n; i++) {
        const at = batch.reserve(f.length);
        f.copy(batch.bytes, at);
        const t = batch.commit(f.length, f.length, f.length, false);
        batch.words[t] = i;
        batch.words[t + 1] = 1000;
      }
    };
    fill();
    batch.run(() => {});
    const t0 = nowNs();
    for (let i = 0; i < runs; i++) {
      fill();
      batch.run(() => {});
    }
    return (nowNs() - t0) / runs / 1e3;
  } finally {
    batch.free();
    kernel.close();
  }
}

/** One `tc-top -r` of the file by the binary `bin`, timed from spawn to exit. */
function readCapture(bin: string, file: string, hook: 'tc' | 'xdp'): { seconds: number; counted: number } {
  const t0 = nowNs();
  const r = spawnSync(process.execPath, [bin, '-r', file, '--json', '--top', '1', '--hook', hook], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (nowNs() - t0) / 1e9;
  try {
    return { seconds, counted: (JSON.parse(r.stdout) as { totals: { packets_in: number } }).totals.packets_in };
  } catch {
    progress(`capture: tc-top -r failed (${r.status}): ${r.stderr.trim()}`);
    return { seconds, counted: 0 };
  }
}

export async function benchCapture(frames = 1_000_000, flows = 10_000): Promise<CaptureResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tctop-bench-capture-'));
  let before: ReturnType<typeof worktreeAt> | undefined;
  try {
    const file = join(dir, 'bench.pcap');
    progress(`capture: writing ${frames} frames of ${flows} flows`);
    writeCapture(file, frames, flows);
    const one = join(dir, 'one.pcap');
    writeCapture(one, 1, 1);
    const rows: CaptureRow[] = [];
    let error: string | undefined;
    let beforeBin: string | undefined;
    try {
      progress(`capture: building ${BEFORE} in a worktree`);
      before = worktreeAt(ROOT, BEFORE);
      run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(before.dir, 'tsconfig.json')]);
      beforeBin = join(before.dir, 'dist', 'bin', 'tc-top.js');
    } catch (err) {
      error = `${BEFORE} not built: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    }
    for (const [k, hook] of HOOKS.entries()) {
      // Alternating which goes first, so that neither always runs on a warmer machine.
      const builds = (['now', 'before'] as const).filter((b) => b === 'now' || beforeBin);
      for (const build of k % 2 === 0 ? builds : [...builds].reverse()) {
        progress(`capture: tc-top -r (${hook}, ${build === 'now' ? 'this build' : BEFORE})`);
        const r = readCapture(build === 'now' ? BIN : beforeBin!, file, hook);
        rows.push({ hook, build, seconds: r.seconds, fps: frames / r.seconds, counted: r.counted });
      }
    }
    progress('capture: one test run, and the start-up');
    const full = 40;
    const runUs = { one: runCost(1, 100_000), batch: runCost(full, 20_000), full };
    const startupS = median([0, 1, 2].map(() => readCapture(BIN, one, 'tc').seconds));
    return { frames, flows, fileBytes: statSync(file).size, before: BEFORE, rows, runUs, startupS, ...(error ? { error } : {}) };
  } finally {
    before?.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
