/**
 * Exact counts on a real link: known frames are sent across a veth pair between two test
 * namespaces while the real tc-top binary watches one end; every flow must show exactly the
 * packets and bytes sent, in the right direction, and the totals must equal the sum.
 *
 * The frames carry a destination MAC that is not the receiver's and the links have no addresses
 * and no IPv6, so neither host answers or chatters: what tc-top sees is exactly what was sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TC_AUTO_MODE } from './helpers/kernel.js';
import { type Bed, hookState, inject, kernelTest, withBed } from './helpers/netns.js';
import { type FrameSpec, arpFrame, frame } from './helpers/packets.js';
import { startTcTop } from './helpers/run.js';

const A4 = '10.200.0.1';
const B4 = '10.200.0.2';
const A6 = 'fd00:200::1';
const B6 = 'fd00:200::2';

interface Sent {
  readonly name: string;
  readonly spec: FrameSpec;
  readonly count: number;
  /** Bytes the TC hook sees less than the frame: the outer VLAN tag the kernel moved into metadata. */
  readonly tcStripped?: number;
  readonly expect: { proto: string; src: string; sport: number; dst: string; dport: number };
}

const INGRESS: readonly Sent[] = [
  { name: 'tcp4', spec: { ip: { v: 4, src: B4, dst: A4 }, l4: { kind: 'tcp', sport: 40001, dport: 80 } }, count: 5, expect: { proto: 'tcp', src: B4, sport: 40001, dst: A4, dport: 80 } },
  { name: 'udp4', spec: { ip: { v: 4, src: B4, dst: A4 }, l4: { kind: 'udp', sport: 5000, dport: 6000 }, payload: 100 }, count: 7, expect: { proto: 'udp', src: B4, sport: 5000, dst: A4, dport: 6000 } },
  { name: 'icmp4', spec: { ip: { v: 4, src: B4, dst: A4 }, l4: { kind: 'icmp', type: 8, code: 0 }, payload: 56 }, count: 3, expect: { proto: 'icmp', src: B4, sport: 0, dst: A4, dport: 2048 } },
  { name: 'udp6', spec: { ip: { v: 6, src: B6, dst: A6 }, l4: { kind: 'udp', sport: 5000, dport: 6000 }, payload: 33 }, count: 6, expect: { proto: 'udp', src: B6, sport: 5000, dst: A6, dport: 6000 } },
  { name: 'tcp6', spec: { ip: { v: 6, src: B6, dst: A6 }, l4: { kind: 'tcp', sport: 40002, dport: 443, flags: 0x12 } }, count: 2, expect: { proto: 'tcp', src: B6, sport: 40002, dst: A6, dport: 443 } },
  { name: 'icmp6', spec: { ip: { v: 6, src: B6, dst: A6 }, l4: { kind: 'icmpv6', type: 128, code: 0 }, payload: 16 }, count: 4, expect: { proto: 'icmpv6', src: B6, sport: 0, dst: A6, dport: 128 * 256 } },
  { name: 'vlan', spec: { vlans: [[0x8100, 5]], ip: { v: 4, src: B4, dst: A4 }, l4: { kind: 'udp', sport: 7000, dport: 8000 } }, count: 2, tcStripped: 4, expect: { proto: 'udp', src: B4, sport: 7000, dst: A4, dport: 8000 } },
  { name: 'qinq', spec: { vlans: [[0x88a8, 6], [0x8100, 7]], ip: { v: 6, src: B6, dst: A6 }, l4: { kind: 'sctp', sport: 9, dport: 10 } }, count: 1, tcStripped: 4, expect: { proto: 'sctp', src: B6, sport: 9, dst: A6, dport: 10 } },
];

const EGRESS: readonly Sent[] = [
  { name: 'udp4 out', spec: { dstMac: '02:00:00:00:00:0b', ip: { v: 4, src: A4, dst: B4 }, l4: { kind: 'udp', sport: 6000, dport: 5000 }, payload: 50 }, count: 4, expect: { proto: 'udp', src: A4, sport: 6000, dst: B4, dport: 5000 } },
  { name: 'icmp6 out', spec: { dstMac: '02:00:00:00:00:0b', ip: { v: 6, src: A6, dst: B6 }, l4: { kind: 'icmpv6', type: 129, code: 0 }, payload: 8 }, count: 2, expect: { proto: 'icmpv6', src: A6, sport: 0, dst: B6, dport: 129 * 256 } },
];

const NON_IP = { bytes: arpFrame(), count: 2 };
/** IP headers cut short: counted as malformed, never as a flow. */
const MALFORMED = [
  frame({ ip: { v: 4, src: B4, dst: A4 }, l4: { kind: 'udp', sport: 1, dport: 2 } }).subarray(0, 14 + 10),
  frame({ ip: { v: 6, src: B6, dst: A6 }, l4: { kind: 'udp', sport: 1, dport: 2 } }).subarray(0, 14 + 30),
];

interface JsonFlow {
  proto: string | number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  dir: string;
  ifname: string;
  packets: number;
  bytes: number;
  pps: number;
  bps: number;
}
interface JsonLine {
  totals: { packets_in: number; packets_out: number; bytes_in: number; bytes_out: number };
  counters: { non_ip: number; malformed: number; non_ip_bytes: number; malformed_bytes: number; update_failed: number };
  flows: JsonFlow[];
  hooks: { kind: string; dir: string; mode: string }[];
}

function send(bed: Bed, list: readonly Sent[], fromA: boolean): void {
  for (const s of list) inject(bed, fromA ? bed.nsA : bed.nsB, fromA ? bed.ifA : bed.ifB, [frame(s.spec)], s.count);
}

async function exactCounts(hook: 'tc' | 'xdp', map: 'mmap' | 'lru' | 'percpu', tcMode: 'auto' | 'legacy' = 'auto'): Promise<void> {
  await withBed(
    async (bed) => {
      const args = ['-i', bed.ifA, '--hook', hook, '--map', map, '--json', '-d', '0.2'];
      if (hook === 'xdp') args.push('--xdp-mode', 'generic');
      if (tcMode !== 'auto') args.push('--tc-mode', tcMode);
      const run = startTcTop(bed.nsA, args);
      try {
        await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
        send(bed, INGRESS, false);
        inject(bed, bed.nsB, bed.ifB, [NON_IP.bytes], NON_IP.count);
        inject(bed, bed.nsB, bed.ifB, MALFORMED);
        const egress = hook === 'tc' ? EGRESS : [];
        send(bed, egress, true);

        const packetsIn = INGRESS.reduce((n, s) => n + s.count, 0) + NON_IP.count + MALFORMED.length;
        const packetsOut = egress.reduce((n, s) => n + s.count, 0);
        const last = (): JsonLine => JSON.parse(run.lines[run.lines.length - 1]!) as JsonLine;
        await run.waitFor(() => last().totals.packets_in >= packetsIn && last().totals.packets_out >= packetsOut, 10_000, 'the counts');
        const n = run.lines.length;
        await run.waitFor(() => run.lines.length > n + 1, 5_000, 'two more lines'); /* nothing late */
        const line = last();

        const mode = hook === 'xdp' ? 'generic' : tcMode === 'legacy' ? 'clsact' : TC_AUTO_MODE;
        assert.deepEqual([...new Set(line.hooks.map((h) => `${h.kind} ${h.mode}`))], [`${hook} ${mode}`], 'the hooks this kernel gives');
        assert.equal(line.totals.packets_in, packetsIn, 'packets in');
        assert.equal(line.totals.packets_out, packetsOut, 'packets out');
        assert.equal(line.counters.non_ip, NON_IP.count);
        assert.equal(line.counters.non_ip_bytes, NON_IP.count * NON_IP.bytes.length);
        assert.equal(line.counters.malformed, MALFORMED.length);
        assert.equal(line.counters.update_failed, 0);

        const all = [...INGRESS.map((s) => ({ s, dir: 'ingress' })), ...egress.map((s) => ({ s, dir: 'egress' }))];
        assert.equal(line.flows.length, all.length, `flows: ${JSON.stringify(line.flows.map((f) => [f.proto, f.src, f.sport, f.dst, f.dport, f.dir]))}`);
        for (const { s, dir } of all) {
          const f = line.flows.find(
            (x) => x.proto === s.expect.proto && x.src === s.expect.src && x.sport === s.expect.sport && x.dst === s.expect.dst && x.dport === s.expect.dport && x.dir === dir,
          );
          assert.ok(f, `flow ${s.name} (${dir}) is reported`);
          const len = frame(s.spec).length - (hook === 'tc' ? (s.tcStripped ?? 0) : 0);
          assert.deepEqual({ name: s.name, packets: f.packets, bytes: f.bytes, ifname: f.ifname }, { name: s.name, packets: s.count, bytes: s.count * len, ifname: bed.ifA });
        }
        const sum = (dir: string, k: 'packets' | 'bytes') => line.flows.filter((f) => f.dir === dir).reduce((t, f) => t + f[k], 0);
        assert.equal(sum('ingress', 'packets') + line.counters.non_ip + line.counters.malformed, line.totals.packets_in, 'totals in = flows + non-IP + malformed');
        assert.equal(sum('ingress', 'bytes') + line.counters.non_ip_bytes + line.counters.malformed_bytes, line.totals.bytes_in);
        assert.equal(sum('egress', 'packets'), line.totals.packets_out);
        assert.equal(sum('egress', 'bytes'), line.totals.bytes_out);

        assert.equal(await run.stop('SIGINT'), 0, `exit code; stderr: ${run.stderr()}`);
        const detached = run.stderr().split('\n').filter((l) => l.includes('detached'));
        assert.equal(detached.length, hook === 'tc' ? 2 : 1, run.stderr());
        const state = hookState(bed, bed.nsA, bed.ifA);
        assert.deepEqual(state.programs, [], 'no XDP or tcx program left');
        assert.equal(state.tcIngress + state.tcEgress, '', 'no tc filter left');
        assert.doesNotMatch(state.qdisc, /clsact/, 'no clsact left behind');
      } finally {
        await run.stop('SIGKILL');
      }
    },
    { addresses: false },
  );
}

describe('exact counts on a veth pair', kernelTest(), () => {
  it(`tc hooks (auto: ${TC_AUTO_MODE}), mmap slots (the default)`, () => exactCounts('tc', 'mmap'));
  it('xdp hook (generic), mmap slots', () => exactCounts('xdp', 'mmap'));
  it(`tc hooks (auto: ${TC_AUTO_MODE}), LRU hash`, () => exactCounts('tc', 'lru'));
  it(`tc hooks (auto: ${TC_AUTO_MODE}), per-CPU LRU hash`, () => exactCounts('tc', 'percpu'));
  it('tc hooks (legacy clsact), LRU hash', () => exactCounts('tc', 'lru', 'legacy'));
  it('xdp hook (generic), LRU hash', () => exactCounts('xdp', 'lru'));
  it('xdp hook (generic), per-CPU LRU hash', () => exactCounts('xdp', 'percpu'));
});
