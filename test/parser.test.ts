/**
 * The kernel parser, case by case: crafted frames run through the loaded programs with
 * BPF_PROG_TEST_RUN, then the flows map and the global counters are read back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kernelTest } from './helpers/netns.js';
import { type Ext, type FrameSpec, arpFrame, frame } from './helpers/packets.js';
import type { FlowRecord, GlobalCounters } from '../src/model/types.js';
import { allRecords } from '../src/model/flow-set.js';

type KC = import('../src/collectors/kernel-collector.js').KernelCollector;

const v4 = { v: 4 as const, src: '10.1.2.3', dst: '192.0.2.9' };
const v6 = { v: 6 as const, src: '2001:db8::1', dst: 'fd00:0:0:1::2' };
const udp = { kind: 'udp' as const, sport: 5353, dport: 53 };

interface Expect {
  readonly proto: number;
  readonly sport: number;
  readonly dport: number;
  readonly family?: 4 | 6;
  readonly tcpFlags?: number;
}

type Outcome = Expect | 'non_ip' | 'malformed';

/** n IPv6 extension headers of 8 bytes each: hop-by-hop, then destination options. */
const chain = (n: number): Ext[] => Array.from({ length: n }, (_, i) => ({ type: i === 0 ? 0 : 60 }));
/** Eight extension headers: each kind the builder makes, routing and destination options twice. */
const EVERY_KIND: readonly Ext[] = [{ type: 0, len: 1 }, { type: 43, len: 2 }, { type: 51, len: 4 }, { type: 135 }, { type: 44, fragOffset: 0 }, { type: 60, len: 3 }, { type: 43 }, { type: 60 }];

/** Cases that parse to a flow, or to one of the two global counters. */
const CASES: readonly { name: string; bytes: Buffer; expect: Outcome }[] = [
  { name: 'IPv4 TCP SYN', bytes: frame({ ip: v4, l4: { kind: 'tcp', sport: 40000, dport: 443, flags: 0x02 } }), expect: { proto: 6, sport: 40000, dport: 443, tcpFlags: 0x02 } },
  { name: 'IPv4 UDP', bytes: frame({ ip: v4, l4: udp, payload: 100 }), expect: { proto: 17, sport: 5353, dport: 53 } },
  { name: 'IPv4 UDP-Lite', bytes: frame({ ip: v4, l4: { kind: 'udplite', sport: 1, dport: 2 } }), expect: { proto: 136, sport: 1, dport: 2 } },
  { name: 'IPv4 SCTP', bytes: frame({ ip: v4, l4: { kind: 'sctp', sport: 3868, dport: 3869 } }), expect: { proto: 132, sport: 3868, dport: 3869 } },
  { name: 'IPv4 ICMP echo request', bytes: frame({ ip: v4, l4: { kind: 'icmp', type: 8, code: 0 } }), expect: { proto: 1, sport: 0, dport: 8 * 256 } },
  { name: 'IPv4 ICMP port unreachable', bytes: frame({ ip: v4, l4: { kind: 'icmp', type: 3, code: 3 } }), expect: { proto: 1, sport: 0, dport: 3 * 256 + 3 } },
  { name: 'IPv4 GRE: other protocol, ports 0', bytes: frame({ ip: v4, l4: { kind: 'raw', proto: 47 }, payload: 20 }), expect: { proto: 47, sport: 0, dport: 0 } },
  { name: 'IPv4 with 12 bytes of options', bytes: frame({ ip: { ...v4, options: 12 }, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53 } },
  { name: 'IPv4 with 40 bytes of options (IHL 15)', bytes: frame({ ip: { ...v4, options: 40 }, l4: { kind: 'tcp', sport: 9, dport: 10, flags: 0x10 } }), expect: { proto: 6, sport: 9, dport: 10, tcpFlags: 0x10 } },
  { name: 'IPv4 first fragment keeps its ports', bytes: frame({ ip: { ...v4, moreFragments: true }, l4: udp, payload: 64 }), expect: { proto: 17, sport: 5353, dport: 53 } },
  { name: 'IPv4 later fragment: ports 0', bytes: frame({ ip: { ...v4, fragOffset: 185 }, l4: udp, payload: 64 }), expect: { proto: 17, sport: 0, dport: 0 } },
  { name: '802.1Q tag', bytes: frame({ vlans: [[0x8100, 10]], ip: v4, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53 } },
  { name: 'QinQ (802.1ad + 802.1Q)', bytes: frame({ vlans: [[0x88a8, 100], [0x8100, 10]], ip: v6, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'two 802.1Q tags', bytes: frame({ vlans: [[0x8100, 1], [0x8100, 2]], ip: v4, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53 } },
  { name: 'three VLAN tags: not parsed as IP', bytes: frame({ vlans: [[0x88a8, 1], [0x8100, 2], [0x8100, 3]], ip: v4, l4: udp }), expect: 'non_ip' },
  { name: 'IPv6 UDP', bytes: frame({ ip: v6, l4: udp, payload: 10 }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'IPv6 TCP SYN-ACK', bytes: frame({ ip: v6, l4: { kind: 'tcp', sport: 22, dport: 50000, flags: 0x12 } }), expect: { proto: 6, sport: 22, dport: 50000, family: 6, tcpFlags: 0x12 } },
  { name: 'ICMPv6 echo request', bytes: frame({ ip: v6, l4: { kind: 'icmpv6', type: 128, code: 0 } }), expect: { proto: 58, sport: 0, dport: 128 * 256, family: 6 } },
  { name: 'IPv6 hop-by-hop, dstopts, routing, then UDP', bytes: frame({ ip: { ...v6, ext: [{ type: 0 }, { type: 60, len: 1 }, { type: 43, len: 2 }] }, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'IPv6 AH then TCP', bytes: frame({ ip: { ...v6, ext: [{ type: 51, len: 4 }] }, l4: { kind: 'tcp', sport: 1, dport: 2, flags: 0x18 } }), expect: { proto: 6, sport: 1, dport: 2, family: 6, tcpFlags: 0x18 } },
  { name: 'IPv6 mobility header then UDP', bytes: frame({ ip: { ...v6, ext: [{ type: 135 }] }, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'IPv6 first fragment keeps its ports', bytes: frame({ ip: { ...v6, ext: [{ type: 44, fragOffset: 0 }] }, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'IPv6 later fragment: ports 0', bytes: frame({ ip: { ...v6, ext: [{ type: 0 }, { type: 44, fragOffset: 100 }] }, l4: udp }), expect: { proto: 17, sport: 0, dport: 0, family: 6 } },
  // The parser walks up to MAX_EXT_HEADERS (8) extension headers: what follows the 8th is read,
  // a 9th extension header is a chain too long.
  { name: 'IPv6 seven extension headers then UDP', bytes: frame({ ip: { ...v6, ext: chain(7) }, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'IPv6 eight extension headers then UDP', bytes: frame({ ip: { ...v6, ext: chain(8) }, l4: udp }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'IPv6 eight extension headers then TCP', bytes: frame({ ip: { ...v6, ext: chain(8) }, l4: { kind: 'tcp', sport: 443, dport: 40001, flags: 0x11 } }), expect: { proto: 6, sport: 443, dport: 40001, family: 6, tcpFlags: 0x11 } },
  { name: 'IPv6 eight extension headers then ICMPv6', bytes: frame({ ip: { ...v6, ext: chain(8) }, l4: { kind: 'icmpv6', type: 129, code: 0 } }), expect: { proto: 58, sport: 0, dport: 129 * 256, family: 6 } },
  { name: 'IPv6 eight extension headers of every kind then UDP', bytes: frame({ ip: { ...v6, ext: EVERY_KIND }, l4: udp, payload: 3 }), expect: { proto: 17, sport: 5353, dport: 53, family: 6 } },
  { name: 'IPv6 eight extension headers, the 8th a later fragment: ports 0', bytes: frame({ ip: { ...v6, ext: [...chain(7), { type: 44, fragOffset: 100 }] }, l4: udp }), expect: { proto: 17, sport: 0, dport: 0, family: 6 } },
  { name: 'IPv6 eight extension headers then no next header (59)', bytes: frame({ ip: { ...v6, ext: chain(8) }, l4: { kind: 'raw', proto: 59 } }), expect: { proto: 59, sport: 0, dport: 0, family: 6 } },
  { name: 'IPv6 nine extension headers then UDP', bytes: frame({ ip: { ...v6, ext: chain(9) }, l4: udp }), expect: 'malformed' },
  { name: 'IPv6 nine extension headers then no next header (59)', bytes: frame({ ip: { ...v6, ext: chain(9) }, l4: { kind: 'raw', proto: 59 } }), expect: 'malformed' },
  { name: 'IPv6 eight extension headers then a fragment header', bytes: frame({ ip: { ...v6, ext: [...chain(8), { type: 44, fragOffset: 0 }] }, l4: udp }), expect: 'malformed' },
  { name: 'IPv6 no next header (59)', bytes: frame({ ip: v6, l4: { kind: 'raw', proto: 59 } }), expect: { proto: 59, sport: 0, dport: 0, family: 6 } },
  // A complete chain that ends the frame exactly: nothing is cut short.
  { name: 'IPv6 destination options then 59, no payload', bytes: frame({ ip: { ...v6, ext: [{ type: 60, len: 1 }] }, l4: { kind: 'raw', proto: 59 } }), expect: { proto: 59, sport: 0, dport: 0, family: 6 } },
  { name: 'IPv6 seven extension headers then 59, no payload', bytes: frame({ ip: { ...v6, ext: chain(7) }, l4: { kind: 'raw', proto: 59 } }), expect: { proto: 59, sport: 0, dport: 0, family: 6 } },
  { name: 'IPv6 AH then 59, no payload', bytes: frame({ ip: { ...v6, ext: [{ type: 51, len: 4 }] }, l4: { kind: 'raw', proto: 59 } }), expect: { proto: 59, sport: 0, dport: 0, family: 6 } },
  { name: 'ARP', bytes: arpFrame(), expect: 'non_ip' },
  { name: 'LLDP ethertype', bytes: Buffer.concat([frame({ ip: v4, l4: udp }).subarray(0, 12), Buffer.from([0x88, 0xcc]), Buffer.alloc(40)]), expect: 'non_ip' },
];

/** Truncations at every header boundary, and header fields that lie. */
function malformedCases(): { name: string; bytes: Buffer }[] {
  const cut = (spec: FrameSpec, len: number) => frame(spec).subarray(0, len);
  const tcp4: FrameSpec = { ip: v4, l4: { kind: 'tcp', sport: 1, dport: 2 } };
  const none = { kind: 'raw', proto: 59 } as const;
  const cases = [
    { name: 'VLAN tag cut short', bytes: cut({ vlans: [[0x8100, 1]], ip: v4, l4: udp }, 16) },
    { name: 'IPv4 header cut short', bytes: cut(tcp4, 14 + 19) },
    { name: 'IPv4 options cut short', bytes: cut({ ip: { ...v4, options: 8 }, l4: udp }, 14 + 24) },
    { name: 'TCP header cut short', bytes: cut(tcp4, 14 + 20 + 19) },
    { name: 'UDP header cut short', bytes: cut({ ip: v4, l4: udp }, 14 + 20 + 7) },
    { name: 'SCTP header cut short', bytes: cut({ ip: v4, l4: { kind: 'sctp', sport: 1, dport: 2 } }, 14 + 20 + 11) },
    { name: 'ICMP header cut short', bytes: cut({ ip: v4, l4: { kind: 'icmp', type: 8, code: 0 } }, 14 + 20 + 3) },
    { name: 'IPv6 header cut short', bytes: cut({ ip: v6, l4: udp }, 14 + 39) },
    { name: 'IPv6 extension header cut short', bytes: cut({ ip: { ...v6, ext: [{ type: 0 }] }, l4: udp }, 14 + 40 + 1) },
    { name: 'IPv6 fragment header cut short', bytes: cut({ ip: { ...v6, ext: [{ type: 44 }] }, l4: udp }, 14 + 40 + 7) },
    { name: 'IPv6 extension length past the end', bytes: cut({ ip: { ...v6, ext: [{ type: 60, len: 200 }] }, l4: udp }, 14 + 40 + 64) },
    // An extension header whose length runs past the end of the frame, whatever follows it.
    { name: 'IPv6 extension header cut short, then no next header (59)', bytes: cut({ ip: { ...v6, ext: [{ type: 0 }] }, l4: none }, 14 + 40 + 2) },
    { name: 'IPv6 extension header cut short by one byte, then 59', bytes: cut({ ip: { ...v6, ext: [{ type: 60, len: 1 }] }, l4: none }, 14 + 40 + 15) },
    { name: 'IPv6 extension length past the end, then 59', bytes: cut({ ip: { ...v6, ext: [{ type: 60, len: 200 }] }, l4: none }, 14 + 40 + 64) },
    { name: 'IPv6 AH cut short, then 59', bytes: cut({ ip: { ...v6, ext: [{ type: 51, len: 4 }] }, l4: none }, 14 + 40 + 12) },
    { name: 'IPv6 extension header cut short, then GRE (47)', bytes: cut({ ip: { ...v6, ext: [{ type: 0 }] }, l4: { kind: 'raw', proto: 47 }, payload: 20 }, 14 + 40 + 4) },
    { name: 'IPv6 extension header cut short, then TCP', bytes: cut({ ip: { ...v6, ext: [{ type: 0 }] }, l4: { kind: 'tcp', sport: 1, dport: 2 } }, 14 + 40 + 4) },
    { name: 'IPv6 extension header cut short, then UDP', bytes: cut({ ip: { ...v6, ext: [{ type: 0 }] }, l4: udp }, 14 + 40 + 4) },
    { name: 'IPv6 extension header cut short, then ICMPv6', bytes: cut({ ip: { ...v6, ext: [{ type: 0 }] }, l4: { kind: 'icmpv6', type: 128, code: 0 } }, 14 + 40 + 4) },
    { name: 'IPv6 2nd of 3 extension headers cut short, then 59', bytes: cut({ ip: { ...v6, ext: chain(3) }, l4: none }, 14 + 40 + 8 + 5) },
    { name: 'IPv6 7th of 7 extension headers cut short, then 59', bytes: cut({ ip: { ...v6, ext: chain(7) }, l4: none }, 14 + 40 + 6 * 8 + 5) },
    { name: 'IPv6 8th of 8 extension headers cut short, then 59', bytes: cut({ ip: { ...v6, ext: chain(8) }, l4: none }, 14 + 40 + 7 * 8 + 5) },
    { name: 'IPv6 8th of 8 extension headers cut short, then UDP', bytes: cut({ ip: { ...v6, ext: chain(8) }, l4: udp }, 14 + 40 + 7 * 8 + 5) },
    { name: 'IPv6 8 extension headers then UDP cut short', bytes: cut({ ip: { ...v6, ext: chain(8) }, l4: udp }, 14 + 40 + 8 * 8 + 7) },
    { name: 'IPv4 IHL below 5', bytes: frame({ ip: { ...v4, ihl: 4 }, l4: udp }) },
    { name: 'IPv4 IHL past the end', bytes: cut({ ip: { ...v4, ihl: 15 }, l4: udp }, 14 + 40) },
    { name: 'TCP data offset below 5', bytes: frame({ ip: v4, l4: { kind: 'tcp', sport: 1, dport: 2, doff: 3 } }) },
  ];
  const v6in4 = frame({ ip: v4, l4: udp });
  v6in4[14] = 0x65; /* ethertype IPv4, version 6 */
  cases.push({ name: 'IPv4 ethertype with version 6', bytes: v6in4 });
  const v4in6 = frame({ ip: v6, l4: udp });
  v4in6[14] = 0x40; /* ethertype IPv6, version 4 */
  cases.push({ name: 'IPv6 ethertype with version 4', bytes: v4in6 });
  return cases;
}

const ZERO_KEYS = (flows: readonly FlowRecord[]) => flows.map((f) => f.key);

function diffCounters(a: GlobalCounters, b: GlobalCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b) as (keyof GlobalCounters)[]) if (b[k] !== a[k]) out[k] = b[k] - a[k];
  return out;
}

for (const mapKind of ['mmap', 'lru', 'percpu'] as const) {
  describe(`parser via BPF_PROG_TEST_RUN (${mapKind} map)`, kernelTest(), () => {
    let collector: KC;
    let testRun: typeof import('../src/ffi/libbpf.js').progTestRun;

    before(async () => {
      const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
      ({ progTestRun: testRun } = await import('../src/ffi/libbpf.js'));
      collector = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map: mapKind, maxFlows: 1024, attach: false });
    });
    after(() => collector?.close());

    /** Run one frame through a program; return the one flow it made or the counters it moved. */
    function run(program: 'xdp' | 'tcIngress' | 'tcEgress', bytes: Buffer, repeat = 1) {
      collector.deleteFlows(ZERO_KEYS(allRecords(collector.read().flows)));
      const before = collector.read().counters;
      const { retval } = testRun(collector.programFd(program), bytes, repeat);
      const snap = collector.read();
      return { retval, flows: snap.flows, counters: diffCounters(before, snap.counters) };
    }

    for (const program of ['xdp', 'tcIngress', 'tcEgress'] as const) {
      const dir = program === 'tcEgress' ? 'egress' : 'ingress';
      const bucket = dir === 'ingress' ? 'In' : 'Out';
      for (const c of CASES) {
        it(`${program}: ${c.name}`, () => {
          const r = run(program, c.bytes, 3);
          assert.equal(r.retval, program === 'xdp' ? 2 /* XDP_PASS */ : 0xffffffff | 0 /* TC_ACT_UNSPEC == TCX_NEXT */);
          if (typeof c.expect === 'string') {
            assert.equal(r.flows.length, 0);
            const field = c.expect === 'non_ip' ? 'nonIp' : 'malformed';
            assert.deepEqual(r.counters, { [`packets${bucket}`]: 3, [`bytes${bucket}`]: 3 * c.bytes.length, [field]: 3, [`${field}Bytes`]: 3 * c.bytes.length });
            return;
          }
          assert.equal(r.flows.length, 1, 'exactly one flow');
          const f = r.flows.record(0);
          assert.deepEqual(
            { proto: f.proto, sport: f.sport, dport: f.dport, family: f.family, dir: f.dir, packets: f.packets, bytes: f.bytes, tcpFlags: f.tcpFlags },
            { proto: c.expect.proto, sport: c.expect.sport, dport: c.expect.dport, family: c.expect.family ?? 4, dir, packets: 3, bytes: 3 * c.bytes.length, tcpFlags: c.expect.tcpFlags ?? 0 },
          );
          assert.equal(f.src, (c.expect.family ?? 4) === 4 ? '10.1.2.3' : '2001:db8::1');
          assert.equal(f.dst, (c.expect.family ?? 4) === 4 ? '192.0.2.9' : 'fd00:0:0:1::2');
          assert.ok(f.firstSeenNs > 0 && f.lastSeenNs >= f.firstSeenNs);
          assert.deepEqual(r.counters, { [`packets${bucket}`]: 3, [`bytes${bucket}`]: 3 * c.bytes.length, flowsCreated: 1 });
        });
      }
      for (const c of malformedCases()) {
        // The kernel's skb test runner refuses an IP header shorter than its fixed part (EINVAL);
        // test/counts.test.ts sends those frames over a real veth to the TC programs instead.
        if (program !== 'xdp' && /^IPv[46] header cut short/.test(c.name)) continue;
        it(`${program}: malformed: ${c.name}`, () => {
          const r = run(program, c.bytes);
          assert.equal(r.flows.length, 0);
          assert.deepEqual(r.counters, { [`packets${bucket}`]: 1, [`bytes${bucket}`]: c.bytes.length, malformed: 1, malformedBytes: c.bytes.length });
        });
      }
    }

    it('ORs the TCP flags of a connection and keeps first/last seen', () => {
      collector.deleteFlows(ZERO_KEYS(allRecords(collector.read().flows)));
      const seg = (flags: number) => frame({ ip: v4, l4: { kind: 'tcp', sport: 1000, dport: 80, flags } });
      testRun(collector.programFd('tcIngress'), seg(0x02));
      testRun(collector.programFd('tcIngress'), seg(0x10));
      // The programs read the coarse clock (a jiffy, at most 10 ms): let it move on.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
      testRun(collector.programFd('tcIngress'), seg(0x11));
      const [f] = allRecords(collector.read().flows);
      assert.equal(f?.tcpFlags, 0x13);
      assert.equal(f?.packets, 3);
      assert.ok(f!.lastSeenNs > f!.firstSeenNs);
    });
  });
}
