/**
 * Fuzzing the kernel parser: 100,000+ random and mutated frames per program through
 * BPF_PROG_TEST_RUN (truncations at every header, bogus lengths, extension-header chains, VLAN
 * stacks, random bytes). Invariant: every frame is counted exactly once, in a flow or in a global
 * counter, and the packet and byte sums match. A seeded generator makes a failure reproducible.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from './helpers/model-fixtures.js';
import { kernelTest } from './helpers/netns.js';
import { type Ext, type FrameSpec, type L4, arpFrame, frame } from './helpers/packets.js';

const FRAMES = Number(process.env.TC_TOP_FUZZ_FRAMES ?? 100_000);
const SEED = Number(process.env.TC_TOP_FUZZ_SEED ?? 20261124);

function generator(seed: number): () => Buffer {
  const r = prng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const l4s = (): L4 =>
    pick<L4>([
      { kind: 'tcp', sport: int(65536), dport: int(65536), flags: int(256), doff: int(16) },
      { kind: 'udp', sport: int(65536), dport: int(65536) },
      { kind: 'udplite', sport: int(65536), dport: int(65536) },
      { kind: 'sctp', sport: int(65536), dport: int(65536) },
      { kind: 'icmp', type: int(256), code: int(256) },
      { kind: 'icmpv6', type: int(256), code: int(256) },
      { kind: 'raw', proto: int(256) },
    ]);
  const exts = (): Ext[] =>
    Array.from({ length: int(10) }, () => {
      const type = pick([0, 43, 60, 44, 51, 135] as const);
      return { type, len: int(4), fragOffset: r() < 0.5 ? 0 : int(8192) };
    });
  const spec = (): FrameSpec => ({
    vlans: Array.from({ length: int(4) }, () => [pick([0x8100, 0x88a8]), int(4096)] as const),
    ip:
      r() < 0.5
        ? { v: 4, src: `10.${int(4)}.${int(256)}.${int(256)}`, dst: `192.0.2.${int(256)}`, options: 4 * int(11), fragOffset: r() < 0.2 ? int(8192) : 0, moreFragments: r() < 0.2 }
        : { v: 6, src: `2001:db8::${int(65536).toString(16)}`, dst: `fd00::${int(65536).toString(16)}`, ext: exts() },
    l4: l4s(),
    payload: int(200),
  });
  return () => {
    const kind = r();
    let f: Buffer;
    if (kind < 0.05) f = Buffer.from(Array.from({ length: 14 + int(300) }, () => int(256))); /* noise */
    else if (kind < 0.08) f = arpFrame();
    else f = frame(spec());
    const m = r();
    if (m < 0.4) f = f.subarray(0, 14 + int(Math.max(1, f.length - 13))); /* truncate anywhere after Ethernet */
    else if (m < 0.7) {
      f = Buffer.from(f);
      for (let i = int(4); i >= 0; i--) f[14 + int(Math.max(1, f.length - 14))] = int(256); /* flip header bytes */
    } else if (m < 0.75) {
      f = Buffer.from(f);
      f.writeUInt16BE(pick([0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x88cc, int(65536)]), 12); /* ethertype */
    }
    return f;
  };
}

for (const map of ['mmap', 'lru', 'percpu'] as const) {
  describe(`fuzzing the parser (${map} map)`, kernelTest(), () => {
    for (const program of ['xdp', 'tcIngress', 'tcEgress'] as const) {
      it(`${program}: ${FRAMES} frames, each counted exactly once`, async () => {
        const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
        const { progTestRun } = await import('../src/ffi/libbpf.js');
        const { BpfError } = await import('../src/ffi/errors.js');
        const c = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map, maxFlows: 2 * FRAMES, attach: false });
        try {
          const fd = c.programFd(program);
          const next = generator(SEED + program.length);
          let sent = 0;
          let bytes = 0;
          let refused = 0;
          const pass = program === 'xdp' ? 2 : -1;
          for (let i = 0; i < FRAMES; i++) {
            const f = next();
            try {
              const { retval } = progTestRun(fd, f);
              assert.equal(retval, pass, 'the verdict never changes');
              sent++;
              bytes += f.length;
            } catch (err) {
              // The skb test runner itself refuses IP headers shorter than their fixed part.
              if (!(err instanceof BpfError) || err.errno !== 22 || program === 'xdp') throw err;
              refused++;
            }
          }
          const s = c.read();
          const k = s.counters;
          const dirPackets = program === 'tcEgress' ? k.packetsOut : k.packetsIn;
          const dirBytes = program === 'tcEgress' ? k.bytesOut : k.bytesIn;
          assert.equal(dirPackets, sent, 'every frame seen once');
          assert.equal(dirBytes, bytes);
          assert.equal(k.packetsIn + k.packetsOut, sent, 'in the one direction only');
          const flowPackets = s.flows.packets.reduce((t, n) => t + n, 0);
          const flowBytes = s.flows.bytes.reduce((t, n) => t + n, 0);
          assert.equal(s.flows.length, k.flowsCreated, 'no flow lost (the map is large enough)');
          assert.equal(flowPackets + k.nonIp + k.malformed + k.updateFailed, sent, 'flows + non-IP + malformed + failed = frames');
          assert.equal(flowBytes + k.nonIpBytes + k.malformedBytes, bytes, 'bytes add up too');
          assert.equal(k.updateFailed, 0);
          assert.ok(k.malformed > FRAMES / 10 && k.nonIp > FRAMES / 100 && s.flows.length > FRAMES / 10, `a varied mix: ${JSON.stringify(k)}`);
          assert.ok(refused < FRAMES / 5, `refused by the test runner: ${refused}`);
        } finally {
          c.close();
        }
      });
    }
  });
}
