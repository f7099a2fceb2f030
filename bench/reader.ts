/**
 * The reader: time to read every flow out of the kernel and decode it into the model's records
 * (FlowSet columns), with batch lookups, with get_next_key iteration, and with `bpftool map dump -j`;
 * and the kernel memory of the flows map per flow, from bpftool's memlock.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { decodeValues, KernelFlowSet, ValueColumns } from '../src/collectors/kernel-flows.js';
import { KernelCollector, type MapKind } from '../src/collectors/kernel-collector.js';
import { MapReader, type MapEntries } from '../src/collectors/map-reader.js';
import { SlotReader } from '../src/collectors/slot-reader.js';
import { FlowKey, FlowValue } from '../src/ffi/layout.js';
import { numPossibleCpus } from '../src/ffi/libbpf.js';
import type { FlowSet } from '../src/model/flow-set.js';
import { capacityFor, FlowFiller, SlotFiller } from './flows.js';
import { exited, median, nowNs, progress, run } from './lib.js';

export const READER_SIZES = [10_000, 100_000, 1_000_000] as const;

export interface ReaderRow {
  readonly flows: number;
  /** Entries actually in the map after the fill (an LRU map may drop a few early). */
  readonly present: number;
  /** Median ms: batch lookups only (the kernel copy), and read + decode (collector.read()). */
  readonly batchReadMs: number;
  readonly batchMs: number;
  /** Median ms: get_next_key + lookup per flow, only, and with the same decode. */
  readonly iterateReadMs: number;
  readonly iterateMs: number;
  /** bpftool map dump -j: its run (ms, bytes of JSON), and parsing + decoding its JSON in Node (ms). */
  readonly bpftoolMs: number;
  readonly bpftoolBytes: number;
  readonly bpftoolParseMs?: number;
  /** collector.read() of the per-CPU map holding the same flows. */
  readonly percpuBatchMs: number;
  /** The mmap map kind (tc-top's default) holding the same flows: its walk over the shared slots only, and collector.read(). */
  readonly mmapReadMs: number;
  readonly mmapMs: number;
}

export interface MemoryRow {
  readonly map: MapKind;
  readonly maxEntries: number;
  readonly memlock: number;
  readonly perFlow: number;
}

export interface ReaderResult {
  readonly rows: ReaderRow[];
  readonly memory: MemoryRow[];
  readonly cpus: number;
}

/** The map id of an fd of ours, from /proc/self/fdinfo (what bpftool would list). */
export function mapId(fd: number): number {
  const m = /^map_id:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (!m) throw new Error(`fd ${fd} is not a BPF map`);
  return Number(m[1]);
}

function timeMs(fn: () => void): number {
  const t = nowNs();
  fn();
  return (nowNs() - t) / 1e6;
}

/** The decoding of KernelCollector.read() (columns, no per-flow object), over entries read some other way. */
function decodeAll(e: MapEntries, cpus: number, slot: number): FlowSet {
  return new KernelFlowSet(e.keys, decodeValues(e.values, e.count, cpus, slot), (i) => `if${i}`);
}

/** bpftool's dump, streamed and counted; its JSON kept only when `keep` (a 1M-flow dump is ~1 GB). */
async function bpftoolDump(id: number, keep: boolean): Promise<{ ms: number; bytes: number; json?: Buffer }> {
  const t = nowNs();
  const child = spawn('bpftool', ['map', 'dump', 'id', String(id), '-j'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let bytes = 0;
  child.stdout!.on('data', (d: Buffer) => {
    bytes += d.length;
    if (keep) chunks.push(d);
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await exited(child);
  const ms = (nowNs() - t) / 1e6;
  if (code !== 0) throw new Error(`bpftool map dump exited ${code}: ${err.trim()}`);
  return { ms, bytes, json: keep ? Buffer.concat(chunks) : undefined };
}

/** bpftool's JSON (byte arrays as "0x.." strings) back into the bytes, then decoded as a read is. */
function decodeBpftool(json: Buffer): FlowSet {
  const entries = JSON.parse(json.toString('utf8')) as { key: string[]; value: string[] }[];
  const keys = Buffer.alloc(entries.length * FlowKey.size);
  const values = Buffer.alloc(entries.length * FlowValue.size);
  entries.forEach((e, n) => {
    for (let i = 0; i < FlowKey.size; i++) keys[n * FlowKey.size + i] = parseInt(e.key[i]!, 16);
    for (let i = 0; i < FlowValue.size; i++) values[n * FlowValue.size + i] = parseInt(e.value[i]!, 16);
  });
  return decodeAll({ keys, values, count: entries.length }, 1, FlowValue.size);
}

function start(map: MapKind, maxFlows: number): KernelCollector {
  return KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map, maxFlows, attach: false });
}

export async function benchReader(): Promise<ReaderResult> {
  const cpus = numPossibleCpus();
  const rows: ReaderRow[] = [];
  for (const n of READER_SIZES) {
    const big = n >= 1_000_000;
    const reps = big ? 3 : 5;
    const cap = capacityFor(n);
    progress(`reader: ${n.toLocaleString('en-US')} flows`);
    let row: Omit<ReaderRow, 'percpuBatchMs' | 'mmapReadMs' | 'mmapMs'>;
    const lru = start('lru', cap);
    try {
      new FlowFiller(lru.flowsMapFd, false).fill(n);
      const batchReader = new MapReader(lru.flowsMapFd, FlowKey.size, FlowValue.size, cap, 'batch');
      const iterReader = new MapReader(lru.flowsMapFd, FlowKey.size, FlowValue.size, cap, 'iterate');
      let present = 0;
      const batchRead: number[] = [];
      const batch: number[] = [];
      for (let r = 0; r < reps; r++) {
        batchRead.push(timeMs(() => void (present = batchReader.read().count)));
        batch.push(timeMs(() => void lru.read()));
      }
      const iterateRead: number[] = [];
      const iterate: number[] = [];
      for (let r = 0; r < (big ? 1 : 3); r++) {
        iterateRead.push(timeMs(() => void iterReader.read()));
        iterate.push(timeMs(() => void decodeAll(iterReader.read(), 1, FlowValue.size)));
      }
      const dump = await bpftoolDump(mapId(lru.flowsMapFd), !big);
      let parseMs: number | undefined;
      if (dump.json) {
        let decoded = 0;
        parseMs = timeMs(() => void (decoded = decodeBpftool(dump.json!).length));
        if (decoded !== present) throw new Error(`bpftool dumped ${decoded} flows, the map holds ${present}`);
      }
      row = {
        flows: n,
        present,
        batchReadMs: median(batchRead),
        batchMs: median(batch),
        iterateReadMs: median(iterateRead),
        iterateMs: median(iterate),
        bpftoolMs: dump.ms,
        bpftoolBytes: dump.bytes,
        bpftoolParseMs: parseMs,
      };
    } finally {
      lru.close();
    }
    const percpu = start('percpu', cap);
    try {
      new FlowFiller(percpu.flowsMapFd, true).fill(n);
      const times: number[] = [];
      for (let r = 0; r < reps; r++) times.push(timeMs(() => void percpu.read()));
      row = { ...row, percpuBatchMs: median(times) } as typeof row;
    } finally {
      percpu.close();
    }
    const mmap = start('mmap', n);
    try {
      new SlotFiller(mmap.sharedSlots!, mmap.slotMapFds.index, n).fill(n);
      const walk = new SlotReader(mmap.sharedSlots!, n);
      const sink = new ValueColumns(1, FlowValue.size, n);
      const walked: number[] = [];
      const read: number[] = [];
      let present = 0;
      for (let r = 0; r < reps; r++) {
        walked.push(timeMs(() => void (present = walk.read(sink).count)));
        // Each snapshot released before the next read, as the run loop releases a retired tick's: the
        // next read then fills its buffers again instead of new ones (page faults on 80 MB at 1M).
        let snap: ReturnType<typeof mmap.read> | undefined;
        read.push(timeMs(() => void (snap = mmap.read())));
        mmap.release(snap!);
      }
      if (present !== n) throw new Error(`the mmap walk found ${present} flows of ${n}`);
      rows.push({ ...(row as Omit<ReaderRow, 'mmapReadMs' | 'mmapMs'>), mmapReadMs: median(walked), mmapMs: median(read) });
    } finally {
      mmap.close();
    }
  }

  progress('reader: kernel memory per flow (bpftool map show)');
  const memory: MemoryRow[] = [];
  const memlockOf = (fd: number) => Number((JSON.parse(run('bpftool', ['map', 'show', 'id', String(mapId(fd)), '-j'])) as { bytes_memlock: number | string }).bytes_memlock);
  for (const map of ['mmap', 'lru', 'percpu'] as const) {
    for (const maxEntries of [65_536, 1_048_576]) {
      const c = start(map, maxEntries);
      try {
        const memlock = map === 'mmap' ? memlockOf(c.slotMapFds.index) + memlockOf(c.slotMapFds.slots) : memlockOf(c.flowsMapFd);
        memory.push({ map, maxEntries, memlock, perFlow: memlock / maxEntries });
      } finally {
        c.close();
      }
    }
  }
  return { rows, memory, cpus };
}

