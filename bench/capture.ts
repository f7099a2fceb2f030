/**
 * `tc-top -r`: frames per second from a capture of 1M frames, through the real binary (start-up
 * included), with the TC program (the default) and with XDP. The capture is written here: pcap,
 * Ethernet, 10,000 flows of the bench's two frame shapes (TCP/IPv4 64 B and UDP/IPv6 with three
 * extension headers, 100 B) alternating, 10 µs apart (10 s of capture time).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchFrame } from './frames.js';
import { nowNs, progress } from './lib.js';

const BIN = fileURLToPath(new URL('../dist/bin/tc-top.js', import.meta.url));

export interface CaptureRow {
  readonly hook: 'tc' | 'xdp';
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

export async function benchCapture(frames = 1_000_000, flows = 10_000): Promise<CaptureResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tctop-bench-capture-'));
  try {
    const file = join(dir, 'bench.pcap');
    progress(`capture: writing ${frames} frames of ${flows} flows`);
    writeCapture(file, frames, flows);
    const rows: CaptureRow[] = [];
    for (const hook of ['tc', 'xdp'] as const) {
      progress(`capture: tc-top -r (${hook})`);
      const t0 = nowNs();
      const r = spawnSync(process.execPath, [BIN, '-r', file, '--json', '--top', '1', '--hook', hook], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const seconds = (nowNs() - t0) / 1e9;
      let counted = 0;
      try {
        counted = (JSON.parse(r.stdout) as { totals: { packets_in: number } }).totals.packets_in;
      } catch {
        progress(`capture: tc-top -r failed (${r.status}): ${r.stderr.trim()}`);
      }
      rows.push({ hook, seconds, fps: frames / seconds, counted });
    }
    return { frames, flows, fileBytes: statSync(file).size, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
