/**
 * Process attribution's cost (bpf/tc_top_owner.bpf.c): what a hit and a new flow cost with the
 * owner programs loaded (the default) and without them (`--no-processes`), side by side in one run.
 *
 * The owner programs run on socket events only (create, bind, connect, a TCP connection's
 * establishment); the counter programs' TC egress hook publishes a new flow's socket owner, once
 * per new flow (own_egress in tc_top.bpf.c, compiled out of the code the verifier keeps with
 * --no-processes). So the figures are the kernel's own BPF run-time statistics (bench/prog-stats.ts)
 * of every program the binary holds, while the test namespaces make five kinds of traffic through
 * the watched veth:
 *   - new flows: TCP connections opened, one request written, closed; one UDP socket sending one
 *     datagram to each of many ports (a new egress flow each);
 *   - hits: datagrams on one connected UDP socket, on one unconnected socket (sendto), and a TCP
 *     bulk transfer (iperf3).
 * Per event: the owner programs' time over the events of the phase (connections, flows, datagrams,
 * TCP segments the watched interface saw); the counter programs' time per packet in the same phase,
 * with attribution on and off. Standalone: `node --import tsx bench/owners.ts`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Bed, withBed } from '../test/helpers/netns.js';
import { median, progress, sleep, stopChild, track } from './lib.js';
import { type ProgStat, progDelta, progStats, watching, withBpfStats } from './prog-stats.js';

const CONNECTIONS = 300;
const DATAGRAMS = 20_000;
const NEW_UDP_FLOWS = 5_000;
const ROUNDS = 3;

export interface OwnerPhase {
  readonly phase: string;
  /** What one event of the phase is. */
  readonly unit: string;
  readonly events: number;
  /** Owner programs' ns per event, with attribution on; their runs per event. */
  readonly ownerNsPerEvent: number;
  readonly ownerRunsPerEvent: number;
  /** The counter programs' ns per packet of the watched interface in this phase, on and off. */
  readonly counterNs: { readonly on: number; readonly off: number };
  /** Each owner program that ran, with attribution on. */
  readonly programs: readonly { readonly name: string; readonly runs: number; readonly nsPerRun: number }[];
}

export interface OwnersResult {
  readonly phases: readonly OwnerPhase[];
  /** Owner programs the binary held with --no-processes (none expected). */
  readonly offOwnerPrograms: readonly string[];
  readonly seconds: number;
  readonly error?: string;
}

const isOwner = (name: string): boolean => name.startsWith('tctop_own_');
const isCounter = (name: string): boolean => name === 'tctop_tc_in' || name === 'tctop_tc_eg';

const PY_UDP = (connected: boolean) =>
  `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n` +
  (connected ? `s.connect(('10.200.0.2',9000))\nfor i in range(${DATAGRAMS}): s.send(b'x'*64)\n` : `for i in range(${DATAGRAMS}): s.sendto(b'x'*64,('10.200.0.2',9000))\n`);
const PY_TCP_WRITES =
  `import socket\ns=socket.create_connection(('10.200.0.2',9001))\ns.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\nfor i in range(${DATAGRAMS}): s.send(b'x'*64)\ns.close()\n`;
const PY_NEW_UDP = `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(${NEW_UDP_FLOWS}): s.sendto(b'x'*64,('10.200.0.2',20000+i))\n`;
const PY_CONNS =
  `import socket\nfor i in range(${CONNECTIONS}):\n s=socket.create_connection(('10.200.0.2',9001))\n s.sendall(b'x'*100)\n s.shutdown(socket.SHUT_WR)\n s.recv(1)\n s.close()\n`;
const PY_SERVER =
  `import socket\nl=socket.socket()\nl.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\nl.bind(('10.200.0.2',9001))\nl.listen(64)\n` +
  `u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nu.bind(('10.200.0.2',9000))\nprint('up',flush=True)\n` +
  `while True:\n c,_=l.accept()\n while c.recv(4096): pass\n c.close()\n`;

interface Phase {
  readonly phase: string;
  readonly unit: string;
  /** Runs the traffic; returns the events, or undefined to count the watched interface's packets. */
  run(bed: Bed): number | undefined;
}

const PHASES: readonly Phase[] = [
  { phase: 'new flows: TCP connections', unit: 'a connection (4 flows at the hook)', run: (bed) => (bed.exec(bed.nsA, 'python3', ['-c', PY_CONNS]), CONNECTIONS) },
  { phase: 'new flows: UDP, a datagram to each of many ports', unit: 'a new egress flow', run: (bed) => (bed.exec(bed.nsA, 'python3', ['-c', PY_NEW_UDP]), NEW_UDP_FLOWS) },
  { phase: 'hits: connected UDP', unit: 'a datagram', run: (bed) => (bed.exec(bed.nsA, 'python3', ['-c', PY_UDP(true)]), DATAGRAMS) },
  { phase: 'hits: unconnected UDP (sendto)', unit: 'a datagram', run: (bed) => (bed.exec(bed.nsA, 'python3', ['-c', PY_UDP(false)]), DATAGRAMS) },
  // Small writes, so that every packet is alike from run to run (a bulk transfer's GSO sizes vary,
  // and TC's time per packet with them): the per-packet cost is what is compared on and off.
  { phase: 'hits: TCP, 64-byte writes (TCP_NODELAY)', unit: 'a packet at the hooks', run: (bed) => (bed.exec(bed.nsA, 'python3', ['-c', PY_TCP_WRITES]), undefined) },
  { phase: 'hits: TCP bulk (iperf3)', unit: 'a packet at the hooks', run: (bed) => (bed.exec(bed.nsA, 'iperf3', ['-c', '10.200.0.2', '-t', '2', '-b', '200M', '-p', '5202']), undefined) },
];

const sum = (d: ReadonlyMap<string, ProgStat>, pick: (name: string) => boolean): ProgStat =>
  [...d].filter(([n]) => pick(n)).reduce((a, [, s]) => ({ ns: a.ns + s.ns, runs: a.runs + s.runs }), { ns: 0, runs: 0 });

/** Each phase's program time, with tc-top watching A's end with or without attribution. */
interface Measured {
  readonly deltas: Map<string, ProgStat>[];
  readonly events: number[];
  readonly held: string[];
}

/** Each phase's program time, with tc-top watching A's end with or without attribution. */
async function measure(bed: Bed, attribution: boolean): Promise<Measured> {
  const args = ['-i', bed.ifA, ...(attribution ? [] : ['--no-processes'])];
  return watching(bed.nsA, args, 'nsenter', async (child) => {
    const deltas: Map<string, ProgStat>[] = [];
    const events: number[] = [];
    for (const p of PHASES) {
      progress(`owners (attribution ${attribution ? 'on' : 'off'}): ${p.phase}`);
      const start = progStats(child.pid!);
      const n = p.run(bed);
      await sleep(200);
      const d = progDelta(start, progStats(child.pid!));
      deltas.push(d);
      events.push(n ?? sum(d, isCounter).runs);
    }
    return { deltas, events, held: [...progStats(child.pid!).keys()] };
  });
}

export async function benchOwners(): Promise<OwnersResult> {
  const t0 = Date.now();
  try {
    return await withBpfStats(() =>
      withBed(async (bed) => {
        const server = track(spawn('ip', ['netns', 'exec', bed.nsB, 'python3', '-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'ignore'] }));
        const iperf = track(spawn('ip', ['netns', 'exec', bed.nsB, 'iperf3', '-s', '-p', '5202', '-B', '10.200.0.2'], { stdio: 'ignore' }));
        try {
          await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
          await sleep(300);
          // Rounds alternate which goes first, so that warm caches favour neither; figures are medians.
          const on: Measured[] = [];
          const off: Measured[] = [];
          for (let r = 0; r < ROUNDS; r++) {
            for (const attribution of r % 2 ? [false, true] : [true, false]) (attribution ? on : off).push(await measure(bed, attribution));
          }
          const phases = PHASES.map((p, i): OwnerPhase => {
            const counter = (m: Measured) => {
              const c = sum(m.deltas[i]!, isCounter);
              return c.runs ? c.ns / c.runs : 0;
            };
            const programs = new Map<string, ProgStat>();
            for (const m of on) for (const [n, s] of m.deltas[i]!) if (isOwner(n)) programs.set(n, { ns: (programs.get(n)?.ns ?? 0) + s.ns, runs: (programs.get(n)?.runs ?? 0) + s.runs });
            return {
              phase: p.phase,
              unit: p.unit,
              events: median(on.map((m) => m.events[i]!)),
              ownerNsPerEvent: median(on.map((m) => sum(m.deltas[i]!, isOwner).ns / m.events[i]!)),
              ownerRunsPerEvent: median(on.map((m) => sum(m.deltas[i]!, isOwner).runs / m.events[i]!)),
              counterNs: { on: median(on.map(counter)), off: median(off.map(counter)) },
              programs: [...programs].map(([name, s]) => ({ name, runs: s.runs, nsPerRun: s.ns / s.runs })).sort((a, b) => a.name.localeCompare(b.name)),
            };
          });
          const offOwnerPrograms = [...new Set(off.flatMap((m) => m.held.filter(isOwner)))];
          return { phases, offOwnerPrograms, seconds: (Date.now() - t0) / 1000 };
        } finally {
          await stopChild(server, 1000, 'SIGKILL');
          await stopChild(iperf, 1000, 'SIGKILL');
        }
      }),
    );
  } catch (err) {
    return { phases: [], offOwnerPrograms: [], seconds: (Date.now() - t0) / 1000, error: err instanceof Error ? err.message : String(err) };
  }
}

const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');

/** The section of docs/BENCHMARKS.md. */
export function ownersMarkdown(o: OwnersResult | undefined): string[] {
  if (!o) return [];
  const lines = [
    '## 7. Process attribution: a hit and a new flow, attribution on and off',
    '',
    'Method: bench/owners.ts. The real binary watches one end of a veth pair (through `nsenter`, so that the cgroup v2 mount',
    `its owner programs attach to is there), with attribution on (the default) and with \`--no-processes\`, ${ROUNDS} times each, the`,
    'order alternating (medians, except the per-program table, which sums the rounds); each time',
    `the test namespaces open ${n0(CONNECTIONS)} TCP connections (one request each), send ${n0(DATAGRAMS)} datagrams on a connected`,
    `UDP socket and ${n0(DATAGRAMS)} with sendto, send one datagram to each of ${n0(NEW_UDP_FLOWS)} ports, write 64 bytes ${n0(DATAGRAMS)} times on a TCP connection (TCP_NODELAY), and run a 2 s iperf3 transfer`,
    '(its packets\' sizes, GSO, vary from run to run, and TC\'s time per packet with them: it is shown, not judged). The kernel\'s BPF run-time statistics',
    '(`kernel.bpf_stats_enabled`, restored after) give every program\'s time in each phase. The owner programs run on socket',
    'events only (create, bind, connect, a TCP connection\'s establishment); tc-top\'s TC egress program publishes a new',
    'flow\'s socket owner once per new flow (the verifier drops that code with `--no-processes`), so the counter programs\'',
    'ns per packet is shown on and off: equal on hits, the publication\'s cost on new flows. Both ends are on this machine, so',
    'the receiving socket\'s events are in the figures too. Every run of every program includes the statistics\' own two',
    'clock reads.',
    '',
  ];
  if (o.error) return [...lines, `Not measured: ${o.error}`, ''];
  return [
    ...lines,
    '| phase | one event is | events | owner programs, ns per event (runs per event) | counter programs ns/packet, on / off |',
    '| --- | --- | --- | --- | --- |',
    ...o.phases.map((p) => `| ${p.phase} | ${p.unit} | ${n0(p.events)} | ${n0(p.ownerNsPerEvent)} (${p.ownerRunsPerEvent.toFixed(2)}) | ${n0(p.counterNs.on)} / ${n0(p.counterNs.off)} |`),
    '',
    `With \`--no-processes\` the binary held ${o.offOwnerPrograms.length ? `owner programs: ${o.offOwnerPrograms.join(', ')}` : 'no owner program'}: attribution off costs nothing.`,
    '',
    'Each owner program that ran, attribution on:',
    '',
    '| phase | program | runs | ns per run |',
    '| --- | --- | --- | --- |',
    ...o.phases.flatMap((p) => p.programs.map((r) => `| ${p.phase} | \`${r.name}\` | ${n0(r.runs)} | ${n0(r.nsPerRun)} |`)),
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = await benchOwners();
  process.stdout.write(ownersMarkdown(o).join('\n') + '\n');
}
