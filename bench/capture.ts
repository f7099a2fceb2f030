/**
 * `tc-top -r`: frames per second from a capture of 1M frames, through the real binary (start-up
 * included), with the TC program (the default) and with XDP, on the replay lanes this machine gets
 * (a worker thread per CPU) and on the main thread alone (TC_TOP_REPLAY_LANES=0). The capture is
 * written here: pcap, Ethernet, 10,000 flows of the bench's two frame shapes (TCP/IPv4 64 B and
 * UDP/IPv6 with three extension headers, 100 B) alternating, 10 µs apart (10 s of capture time).
 * What bounds the rate is measured too: one test run's cost (a tight loop on one frame, one CPU)
 * and the start-up (a capture of one frame).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelCollector } from '../src/collectors/kernel-collector.js';
import { FRAME_AT, ReplayRunner } from '../src/collectors/replay-runner.js';
import { benchFrame } from './frames.js';
import { median, nowNs, progress } from './lib.js';

const BIN = fileURLToPath(new URL('../dist/bin/tc-top.js', import.meta.url));
const HOOKS = ['tc', 'xdp'] as const;

export interface CaptureRow {
  readonly hook: 'tc' | 'xdp';
  /** Replay lanes (worker threads); 0: the main thread. Absent from runs before lanes existed. */
  readonly lanes?: number;
  readonly seconds: number;
  readonly fps: number;
  /** Frames the table counted (every frame, or the run failed). */
  readonly counted: number;
}

export interface CaptureResult {
  readonly frames: number;
  readonly flows: number;
  readonly fileBytes: number;
  readonly rows: readonly CaptureRow[];
  /** µs per test run of one frame in a tight loop, and seconds from spawn to exit for a capture of one frame, per hook. */
  readonly runUs?: Readonly<Record<'tc' | 'xdp', number>>;
  readonly startupS?: Readonly<Record<'tc' | 'xdp', number>>;
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

/** µs per run of one frame (a hit after the first) through the replay program, as tc-top -r runs it, in a tight loop on this thread. */
function runCost(hook: 'tc' | 'xdp', runs = 200_000): number {
  const xdp = hook === 'xdp';
  const kernel = KernelCollector.start({ interfaces: [], hook, xdpMode: 'auto', map: 'mmap', maxFlows: 65536, attach: false, handshakes: true, object: 'replay', programs: [xdp ? 'xdp' : 'tcIngress'] });
  const prog = kernel.programFd(xdp ? 'xdp' : 'tcIngress');
  const runner = new ReplayRunner(prog, prog, xdp);
  try {
    const f = benchFrame('tcp4', 1);
    f.copy(runner.bytes, FRAME_AT);
    const t0 = nowNs();
    for (let i = 0; i < runs; i++) runner.run(f.length, f.length, 3600e9 + i, false);
    return (nowNs() - t0) / runs / 1e3;
  } finally {
    runner.free();
    kernel.close();
  }
}

/** One `tc-top -r` of the file, timed from spawn to exit; lanes undefined: as many as tc-top takes here. */
function readCapture(file: string, hook: 'tc' | 'xdp', lanes?: number): { seconds: number; counted: number } {
  const env = lanes === undefined ? process.env : { ...process.env, TC_TOP_REPLAY_LANES: String(lanes) };
  const t0 = nowNs();
  const r = spawnSync(process.execPath, [BIN, '-r', file, '--json', '--top', '1', '--hook', hook], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
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
  try {
    const file = join(dir, 'bench.pcap');
    progress(`capture: writing ${frames} frames of ${flows} flows`);
    writeCapture(file, frames, flows);
    const one = join(dir, 'one.pcap');
    writeCapture(one, 1, 1);
    // The lanes the binary takes here (defaultLanes() in src/collectors/replay-lanes.ts: one per CPU up to 8, none with one).
    const cpus = Math.min(availableParallelism(), 8);
    const lanes = cpus > 1 ? cpus : 0;
    const rows: CaptureRow[] = [];
    for (const hook of HOOKS) {
      for (const n of lanes > 0 ? [lanes, 0] : [0]) {
        progress(`capture: tc-top -r (${hook}, ${n === 0 ? 'the main thread' : `${n} lanes`})`);
        const r = readCapture(file, hook, n === lanes ? undefined : n);
        rows.push({ hook, lanes: n, seconds: r.seconds, fps: frames / r.seconds, counted: r.counted });
      }
    }
    progress('capture: one test run, and the start-up');
    const runUs = { tc: runCost('tc'), xdp: runCost('xdp') };
    const startupS = { tc: median([0, 1, 2].map(() => readCapture(one, 'tc').seconds)), xdp: median([0, 1, 2].map(() => readCapture(one, 'xdp').seconds)) };
    return { frames, flows, fileBytes: statSync(file).size, rows, runUs, startupS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
