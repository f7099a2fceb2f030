/**
 * Data plane: nanoseconds per packet of tc-top's XDP and TC ingress programs, measured by the
 * kernel with BPF_PROG_TEST_RUN, against empty programs of the same kinds (bench/empty.bpf.o).
 *
 * - Hit: one call of REPEAT (>= 1e6) repetitions of one frame: the first repetition creates the
 *   flow, every other one finds it. The kernel's duration is its own average per repetition.
 * - Full map, new flows evicting: a repetition repeats the same frame, so after the first it would
 *   be a hit. Instead the map (65,536 entries, the default) is first filled by the program itself,
 *   then each of M calls with repeat = 1 runs a frame of a flow never seen, which must evict. Each
 *   call's kernel-timed duration includes the timer's own overhead, so empty-program calls and
 *   hit calls with repeat = 1 are interleaved with them and the table shows the difference of
 *   medians measured the same way.
 * - Contention: two processes pinned to the two CPUs run the same program on the same frame (one
 *   elephant flow) at once; test runs execute on the calling CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { KernelCollector, type MapKind } from '../src/collectors/kernel-collector.js';
import { BpfObject, numPossibleCpus, progTestRun } from '../src/ffi/libbpf.js';
import { arpFrame } from '../test/helpers/packets.js';
import { benchFrame, type FrameKind } from './frames.js';
import { exited, median, progress, track } from './lib.js';

export const REPEAT = 1_000_000;
const HIT_REPS = 5;
const EVICT_CALLS = 20_000;
const FULL_MAP = 65_536;
const EMPTY_OBJ = fileURLToPath(new URL('./empty.bpf.o', import.meta.url));
const PRIMITIVES_OBJ = fileURLToPath(new URL('./primitives.bpf.o', import.meta.url));
/** bench/primitives.bpf.c's programs, in the order the table lists them. */
const PRIMITIVES = ['prim_counter', 'prim_ktime', 'prim_ktime_coarse', 'prim_lookup', 'prim_lookup_atomic'] as const;
const CHILD = fileURLToPath(new URL('./contend-child.ts', import.meta.url));

export type Program = 'xdp' | 'tc';

export interface CostRow {
  readonly program: Program;
  readonly frame: FrameKind;
  readonly map: MapKind;
  readonly kind: 'hit' | 'evict';
  /** Median kernel ns per packet of tc-top's program. */
  readonly ns: number;
  /** Median ns per packet of the empty program, measured the same way. */
  readonly emptyNs: number;
  /** For the eviction rows: a hit measured the same way (repeat = 1), for comparison. */
  readonly hitSameWayNs?: number;
  /** Evictions seen in the map during the run (eviction rows), and update failures. */
  readonly evictions?: number;
  readonly updateFailed?: number;
}

export interface ContentionRow {
  readonly map: MapKind;
  /** One CPU alone. */
  readonly soloNs: number;
  /** Each of two CPUs, both on the same flow at once (mean of the two CPUs' medians). */
  readonly bothNs: number;
  /** Packets per microsecond of the whole machine, alone and with both CPUs. */
  readonly soloMpps: number;
  readonly bothMpps: number;
  /** Fraction of the two CPUs' runs that overlapped in time (1: fully at once). */
  readonly overlap: number;
}

/** One line of the price list: XDP ns per packet of one part of the work, at REPEAT repetitions. */
export interface PartRow {
  readonly name: (typeof PRIMITIVES)[number] | 'tctop_xdp non-IP (ARP)' | 'tctop_xdp TCP/IPv4 hit (lru)';
  readonly ns: number;
}

export interface DataplaneResult {
  readonly repeat: number;
  readonly hitReps: number;
  readonly evictCalls: number;
  readonly fullMap: number;
  readonly rows: CostRow[];
  readonly contention: ContentionRow[];
  /** XDP: the empty program, then each part alone. */
  readonly emptyXdpNs: number;
  readonly parts: PartRow[];
  readonly cpus: number;
}

/** Every map kind tc-top offers, the default first. */
const MAP_KINDS = ['mmap', 'lru', 'percpu'] as const;

function progFd(c: KernelCollector, p: Program): number {
  return c.programFd(p === 'xdp' ? 'xdp' : 'tcIngress');
}

export async function benchDataplane(): Promise<DataplaneResult> {
  const empty = BpfObject.open(EMPTY_OBJ);
  const prims = BpfObject.open(PRIMITIVES_OBJ);
  const collectors: Partial<Record<MapKind, KernelCollector>> = {};
  try {
    empty.load();
    prims.load();
    const emptyFd: Record<Program, number> = { xdp: empty.programFd('empty_xdp'), tc: empty.programFd('empty_tc') };
    const rows: CostRow[] = [];
    for (const map of MAP_KINDS) {
      collectors[map] = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map, maxFlows: FULL_MAP, attach: false });
    }
    const frames: Record<FrameKind, Buffer> = { tcp4: benchFrame('tcp4'), udp6: benchFrame('udp6') };
    const arp = arpFrame();

    // Hits: the configurations interleaved within each repetition, so that drift hits all alike.
    progress(`data plane: hits, ${HIT_REPS} x ${REPEAT.toLocaleString('en-US')} repetitions per configuration`);
    const hit = new Map<string, number[]>();
    const add = (k: string, ns: number) => hit.set(k, [...(hit.get(k) ?? []), ns]);
    for (let rep = 0; rep < HIT_REPS; rep++) {
      for (const program of ['xdp', 'tc'] as const) {
        for (const frame of ['tcp4', 'udp6'] as const) {
          add(`${program} ${frame} empty`, progTestRun(emptyFd[program], frames[frame], REPEAT).durationNs);
          for (const map of MAP_KINDS) {
            add(`${program} ${frame} ${map}`, progTestRun(progFd(collectors[map]!, program), frames[frame], REPEAT).durationNs);
          }
        }
      }
      for (const name of PRIMITIVES) add(name, progTestRun(prims.programFd(name), frames.tcp4, REPEAT).durationNs);
      add('arp', progTestRun(progFd(collectors.lru!, 'xdp'), arp, REPEAT).durationNs);
    }
    const parts: PartRow[] = [
      ...PRIMITIVES.map((name) => ({ name, ns: median(hit.get(name)!) })),
      { name: 'tctop_xdp non-IP (ARP)', ns: median(hit.get('arp')!) },
      { name: 'tctop_xdp TCP/IPv4 hit (lru)', ns: median(hit.get('xdp tcp4 lru')!) },
    ];
    for (const program of ['xdp', 'tc'] as const) {
      for (const frame of ['tcp4', 'udp6'] as const) {
        for (const map of MAP_KINDS) {
          rows.push({ program, frame, map, kind: 'hit', ns: median(hit.get(`${program} ${frame} ${map}`)!), emptyNs: median(hit.get(`${program} ${frame} empty`)!) });
        }
      }
    }

    progress(`data plane: full map (${FULL_MAP.toLocaleString('en-US')} flows), ${EVICT_CALLS.toLocaleString('en-US')} new flows per configuration`);
    let next = 1; /* flow index: every frame below is a flow the map has not seen */
    for (const map of MAP_KINDS) {
      const c = collectors[map]!;
      // Fill the map through the program itself, as traffic would.
      const xdp = progFd(c, 'xdp');
      for (let i = 0; i < FULL_MAP; i++) progTestRun(xdp, benchFrame('tcp4', next++));
      for (const program of ['xdp', 'tc'] as const) {
        for (const frame of ['tcp4', 'udp6'] as const) {
          const fresh = Array.from({ length: EVICT_CALLS }, () => benchFrame(frame, next++));
          const before = c.read();
          const e: number[] = [];
          const h: number[] = [];
          const z: number[] = [];
          const fd = progFd(c, program);
          for (let i = 0; i < EVICT_CALLS; i++) {
            z.push(progTestRun(emptyFd[program], fresh[i]!, 1).durationNs);
            e.push(progTestRun(fd, fresh[i]!, 1).durationNs);
            h.push(progTestRun(fd, frames[frame], 1).durationNs);
          }
          const after = c.read();
          const created = after.counters.flowsCreated - before.counters.flowsCreated;
          rows.push({
            program,
            frame,
            map,
            kind: 'evict',
            ns: median(e),
            emptyNs: median(z),
            hitSameWayNs: median(h),
            // Live flows stayed at the map's size: each flow created evicted one.
            evictions: created - (after.flows.length - before.flows.length),
            updateFailed: after.counters.updateFailed - before.counters.updateFailed,
          });
        }
      }
    }

    progress('data plane: contention, one elephant flow from both CPUs');
    const contention = await benchContention({ mmap: progFd(collectors.mmap!, 'xdp'), lru: progFd(collectors.lru!, 'xdp'), percpu: progFd(collectors.percpu!, 'xdp') }, frames.tcp4);
    return {
      repeat: REPEAT,
      hitReps: HIT_REPS,
      evictCalls: EVICT_CALLS,
      fullMap: FULL_MAP,
      rows,
      contention,
      emptyXdpNs: median(hit.get('xdp tcp4 empty')!),
      parts,
      cpus: numPossibleCpus(),
    };
  } finally {
    for (const c of Object.values(collectors)) c?.close();
    prims.close();
    empty.close();
  }
}

interface RunReply {
  readonly ns: number[];
  readonly start: number;
  readonly end: number;
}

/** A pinned helper process with the program fds as its fds 3, 4, 5. */
class Runner {
  readonly child: ChildProcess;
  private readonly replies: string[] = [];
  private waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;

  constructor(cpu: number, fds: readonly number[]) {
    this.child = track(
      spawn('taskset', ['-c', String(cpu), process.execPath, '--import', 'tsx', CHILD], {
        stdio: ['pipe', 'pipe', 'inherit', ...fds],
      }),
    );
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (w) w.resolve(line);
      else this.replies.push(line);
    });
    this.child.on('exit', (code, sig) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error(`contention helper exited (${code ?? sig})`));
    });
  }

  reply(): Promise<string> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.reject(new Error('contention helper exited'));
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  async run(fd: number, repeat: number, calls: number): Promise<RunReply> {
    this.send(`run ${fd} ${repeat} ${calls}`);
    return JSON.parse(await this.reply()) as RunReply;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) this.send('exit');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited(this.child);
    clearTimeout(t);
  }
}

const CONTENTION_REPS = 3;
const CONTENTION_CALLS = 5;

async function benchContention(fds: Record<MapKind, number>, data: Buffer): Promise<ContentionRow[]> {
  // In the helpers, fds 3, 4 and 5 are the programs of the mmap, lru and per-CPU maps.
  const childFd: Record<MapKind, number> = { mmap: 3, lru: 4, percpu: 5 };
  const runners = [0, 1].map((cpu) => new Runner(cpu, [fds.mmap, fds.lru, fds.percpu]));
  try {
    for (const r of runners) {
      if ((await r.reply()) !== 'ready') throw new Error('contention helper did not start');
      r.send(`frame ${data.toString('hex')}`);
    }
    const solo: Record<MapKind, number[]> = { mmap: [], lru: [], percpu: [] };
    const both: Record<MapKind, number[]> = { mmap: [], lru: [], percpu: [] };
    const overlap: Record<MapKind, number[]> = { mmap: [], lru: [], percpu: [] };
    for (let rep = 0; rep < CONTENTION_REPS; rep++) {
      for (const map of MAP_KINDS) {
        solo[map].push(...(await runners[0]!.run(childFd[map], REPEAT, CONTENTION_CALLS)).ns);
        const [a, b] = (await Promise.all(runners.map((r) => r.run(childFd[map], REPEAT, CONTENTION_CALLS)))) as [RunReply, RunReply];
        // Per repetition, the mean of the two CPUs' medians, and how much of the runs overlapped.
        both[map].push((median(a.ns) + median(b.ns)) / 2);
        overlap[map].push(Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start)) / Math.max(a.end - a.start, b.end - b.start));
      }
    }
    return (MAP_KINDS).map((map) => {
      const soloNs = median(solo[map]);
      const bothNs = median(both[map]);
      return { map, soloNs, bothNs, soloMpps: 1e3 / soloNs, bothMpps: (2 * 1e3) / bothNs, overlap: median(overlap[map]) };
    });
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
}
