/**
 * tc-top -r's batches (src/collectors/replay-batch.ts, the replay build's tctop_replay_batch). On
 * the kernel: a stream of random frames (every kind the parser knows, IPv6 chains longer than a
 * batch's prefix, frames cut anywhere) counted in batches gives the flows and counters that the
 * live TC programs give frame by frame, for every map kind; and the real binary reading a mixed
 * capture counts every frame once, in its direction, and times every handshake (which needs each
 * connection's frames in order), with both hooks and from standard input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { GlobalCounters } from '../src/model/types.js';
import { allRecords } from '../src/model/flow-set.js';
import { SLOW } from './helpers/kernel.js';
import { kernelTest } from './helpers/netns.js';
import { type Ext, type FrameSpec, type L4, arpFrame, frame } from './helpers/packets.js';
import { type CapFrame, pcap, pcapng } from './helpers/pcap.js';
import { BIN } from './helpers/run.js';

const dir = mkdtempSync(join(tmpdir(), 'tct-batch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The frame from the other end of its flow: addresses and ports swapped. */
function reverse(spec: FrameSpec): FrameSpec {
  const l4: L4 = 'sport' in spec.l4 ? { ...spec.l4, sport: spec.l4.dport, dport: spec.l4.sport } : spec.l4;
  return { ...spec, ip: { ...spec.ip, src: spec.ip.dst, dst: spec.ip.src }, l4 } as FrameSpec;
}

/** An IPv6 extension chain whose headers take more than a batch's prefix (192 bytes) with the others. */
const LONG_CHAIN: readonly Ext[] = [{ type: 0, len: 6 }, { type: 60, len: 6 }, { type: 43, len: 6 }, { type: 60, len: 4 }];

/** A UDP datagram behind LONG_CHAIN: its UDP header ends 270 bytes in, past a batch's prefix. */
const LONG_FRAME = frame({ ip: { v: 6, src: 'fd00::7', dst: '2001:db8::7', ext: LONG_CHAIN }, l4: { kind: 'udp', sport: 7777, dport: 7 }, payload: 300 });

interface Sample {
  readonly bytes: Buffer;
  readonly egress: boolean;
}

/**
 * Random frames of a few hosts and ports (so that flows repeat): TCP with the handshake's flags,
 * UDP, SCTP, ICMP, GRE and No Next Header; VLAN tags (three now and then: not IP); IPv4 options and
 * fragments; IPv6 chains of up to nine headers of every kind and length, a fifth of them longer than
 * a batch's prefix; payloads up to 1400 bytes; one frame in seven cut at a random byte (inside any
 * header); ARP.
 */
function corpus(seed: number, n: number): Sample[] {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const egress = rnd() < 0.4;
    if (rnd() < 0.02) {
      out.push({ bytes: arpFrame(), egress });
      continue;
    }
    const six = rnd() < 0.5;
    const host = Math.floor(rnd() * 6);
    const port = 1000 + Math.floor(rnd() * 8);
    const l4: L4 = pick<L4>([
      { kind: 'tcp', sport: port, dport: 443, flags: pick([0x02, 0x12, 0x10, 0x18, 0x11]) },
      { kind: 'tcp', sport: port, dport: 443, flags: 0x10 },
      { kind: 'udp', sport: port, dport: 53 },
      { kind: 'sctp', sport: port, dport: 3868 },
      six ? { kind: 'icmpv6', type: 128, code: 0 } : { kind: 'icmp', type: 8, code: 0 },
      { kind: 'raw', proto: six ? 59 : 47 },
    ]);
    const vlans = rnd() < 0.15 ? ([[0x88a8, 5], [0x8100, 6], [0x8100, 7]] as const).slice(0, rnd() < 0.1 ? 3 : 1 + Math.floor(rnd() * 2)) : [];
    let ext: Ext[] = [];
    if (six && rnd() < 0.35) {
      if (rnd() < 0.2) ext = [...LONG_CHAIN];
      else {
        const kinds: readonly Ext['type'][] = [0, 43, 60, 135, 51, 44];
        ext = Array.from({ length: 1 + Math.floor(rnd() * 9) }, () => {
          const type = pick(kinds);
          return type === 44 ? { type, fragOffset: rnd() < 0.3 ? 100 : 0 } : { type, len: Math.floor(rnd() * 8) };
        });
      }
    }
    const ip: FrameSpec['ip'] = six
      ? { v: 6, src: `2001:db8::${host + 1}`, dst: 'fd00::80', ext }
      : { v: 4, src: `10.0.0.${host + 1}`, dst: '192.0.2.80', options: pick([0, 0, 0, 12, 40]), ...(rnd() < 0.05 ? { fragOffset: 185 } : {}) };
    const spec: FrameSpec = { vlans, ip, l4, payload: Math.floor(rnd() * (rnd() < 0.3 ? 1400 : 120)) };
    let bytes = frame(rnd() < 0.5 ? spec : reverse(spec));
    if (rnd() < 0.15) bytes = bytes.subarray(0, 14 + Math.floor(rnd() * (bytes.length - 14)));
    out.push({ bytes, egress });
  }
  return out;
}

type KC = import('../src/collectors/kernel-collector.js').KernelCollector;

/** The table a collector holds: each flow's counts by key, and the counters. */
function tableOf(c: KC, extra: Partial<Record<keyof GlobalCounters, number>> = {}) {
  const snap = c.read();
  const flows = new Map(allRecords(snap.flows).map((f) => [f.key, { packets: f.packets, bytes: f.bytes, tcpFlags: f.tcpFlags }]));
  const counters: Record<string, number> = { ...snap.counters };
  for (const [k, v] of Object.entries(extra)) counters[k] = (counters[k] ?? 0) + v;
  delete counters.flowsCreated; // how many slots were taken differs with the map's history, not the counts
  return { flows, counters };
}

for (const map of ['mmap', 'lru', 'percpu'] as const) {
  describe(`replay batches against the live TC programs (${map} map)`, kernelTest(), () => {
    it('2,000 random frames: the same flows, counts, TCP flags and counters; cut frames that needed their whole bytes ran whole', async () => {
      const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
      const { ReplayBatch, PREFIX } = await import('../src/collectors/replay-batch.js');
      const { progTestRun } = await import('../src/ffi/libbpf.js');
      const { BpfError } = await import('../src/ffi/errors.js');
      const samples = corpus(map.length * 7919, 2000);
      const live = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map, maxFlows: 8192, attach: false });
      let replay: KC | undefined;
      let batch: InstanceType<typeof ReplayBatch> | undefined;
      try {
        replay = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map, maxFlows: 8192, attach: false, object: 'replay' });
        batch = new ReplayBatch(replay.programFd('batch'));
        // Live: frame by frame. The skb test runner refuses a frame cut inside its IP header's fixed
        // part (EINVAL); on a link the TC program counts it as malformed, and so does tc-top -r.
        const refused = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, malformed: 0, malformedBytes: 0 };
        for (const s of samples) {
          try {
            progTestRun(live.programFd(s.egress ? 'tcEgress' : 'tcIngress'), s.bytes);
          } catch (err) {
            if (!(err instanceof BpfError && err.errno === 22)) throw err;
            refused[s.egress ? 'packetsOut' : 'packetsIn']++;
            refused[s.egress ? 'bytesOut' : 'bytesIn'] += s.bytes.length;
            refused.malformed++;
            refused.malformedBytes += s.bytes.length;
          }
        }
        // Replay: in batches, each frame given its first PREFIX bytes.
        let held: Sample[] = [];
        let flushes = 0;
        const b = batch;
        const run = () => {
          flushes++;
          b.run((i, out, _into, at) => void held[i]!.bytes.copy(out, at));
          held = [];
        };
        for (const [i, s] of samples.entries()) {
          const given = ReplayBatch.prefixOf(s.bytes.length);
          let at = b.reserve(given);
          if (at < 0) {
            run();
            at = b.reserve(given);
          }
          s.bytes.copy(b.bytes, at, 0, given);
          const t = b.commit(given, s.bytes.length, s.bytes.length, s.egress);
          b.words[t] = i;
          b.words[t + 1] = 1;
          held.push(s);
        }
        run();
        const want = tableOf(live, refused);
        const got = tableOf(replay);
        assert.equal(b.frames, samples.length);
        // A batch is one test run, and a frame run whole two more at most (its own, and the rest's).
        assert.ok(flushes < samples.length / 8, `${flushes} batches for ${samples.length} frames`);
        assert.ok(b.runs >= flushes + b.wholes && b.runs <= flushes + 2 * b.wholes, `${b.runs} test runs`);
        const cut = samples.filter((s) => s.bytes.length > PREFIX).length;
        assert.ok(b.wholes > 10 && b.wholes < cut, `${b.wholes} of ${cut} frames longer than the prefix ran whole`);
        assert.ok(want.flows.size > 100, `${want.flows.size} flows`);
        assert.deepEqual(got.counters, want.counters);
        assert.deepEqual([...got.flows].sort(), [...want.flows].sort());
      } finally {
        batch?.free();
        replay?.close();
        live.close();
      }
    });
  });
}

describe('a replay batch whose run fails', kernelTest(), () => {
  it('is left empty: its frames are not run again by the next flush', async () => {
    const { ReplayBatch } = await import('../src/collectors/replay-batch.js');
    const batch = new ReplayBatch(-1); // no program: the test run fails (EBADF)
    try {
      const f = frame({ ip: { v: 4, src: '10.0.0.1', dst: '10.0.0.2' }, l4: { kind: 'udp', sport: 1, dport: 2 } });
      const at = batch.reserve(f.length);
      f.copy(batch.bytes, at);
      batch.commit(f.length, f.length, f.length, false);
      assert.equal(batch.size, 1);
      assert.throws(() => batch.run(() => {}), /bpf_prog_test_run/);
      assert.equal(batch.size, 0);
      assert.equal(batch.frames, 0);
    } finally {
      batch.free();
    }
  });
});

interface Event {
  readonly ns: number;
  readonly data: Buffer;
  readonly dir: 1 | 2;
  readonly origLen?: number;
}

const v4 = (src: string, dst: string, l4: L4, extra: Partial<FrameSpec> = {}): FrameSpec => ({ ip: { v: 4, src, dst }, l4, ...extra });
const v6 = (src: string, dst: string, l4: L4, ext: readonly Ext[] = []): FrameSpec => ({ ip: { v: 6, src, dst, ext }, l4 });

/**
 * 300 TCP connections (handshake, data both ways, some with VLAN tags, a quarter over IPv6 with
 * extension headers) interleaved in time; UDP, ICMP, fragments, ARP; IPv4 headers cut short (which
 * the skb test runner refused); frames shorter than an Ethernet header; 100 UDP datagrams whose
 * IPv6 headers are longer than a batch's prefix, and 50 long frames whose extension header runs past
 * their end (both run whole); directions marked. About 12 MB, so that the reader refills its buffer.
 */
function mixedCapture(): CapFrame[] {
  const rnd = random(7);
  const events: Event[] = [];
  const add = (ns: number, spec: FrameSpec, dir: 1 | 2) => events.push({ ns: Math.round(ns), data: frame(spec), dir });
  for (let c = 0; c < 300; c++) {
    const six = c % 4 === 3;
    const client = six ? `2001:db8::${c + 1}` : `10.${c >> 8}.${c & 255}.7`;
    const server = six ? 'fd00::80' : '192.0.2.80';
    const tcp = (flags: number, payload: number, up: boolean): FrameSpec => {
      const spec: FrameSpec = six
        ? { ip: { v: 6, src: client, dst: server, ext: c % 8 === 3 ? [{ type: 0 }, { type: 60 }] : [] }, l4: { kind: 'tcp', sport: 30000 + c, dport: 443, flags }, payload }
        : { ip: { v: 4, src: client, dst: server }, l4: { kind: 'tcp', sport: 30000 + c, dport: 443, flags }, payload, ...(c % 5 === 0 ? { vlans: [[0x8100, 7]] as const } : {}) };
      return up ? spec : reverse(spec);
    };
    let t = c * 2e6 + rnd() * 1e6;
    const rtt = 20e3 + rnd() * 2e6;
    add(t, tcp(0x02, 0, true), 2);
    add((t += rtt), tcp(0x12, 0, false), 1);
    add((t += 5e3 + rnd() * 1e5), tcp(0x10, 0, true), 2);
    for (let k = 0; k < 40; k++) {
      const up = rnd() < 0.4;
      add((t += rnd() * 2e5), tcp(0x18, Math.floor(rnd() * 1400), up), up ? 2 : 1);
    }
  }
  for (let i = 0; i < 2000; i++) {
    const spec = v4(`10.9.${i % 40}.1`, '192.0.2.53', { kind: 'udp', sport: 2000 + (i % 40), dport: 53 }, { payload: 40 });
    add(rnd() * 6e8, i % 2 ? reverse(spec) : spec, i % 2 ? 1 : 2);
  }
  for (let i = 0; i < 200; i++) {
    add(rnd() * 6e8, v4('10.8.0.1', '192.0.2.1', { kind: 'icmp', type: i % 2 ? 0 : 8, code: 0 }, { payload: 32 }), 1);
    add(rnd() * 6e8, v4('10.8.0.2', '192.0.2.2', { kind: 'udp', sport: 9, dport: 9 }, { ip: { v: 4, src: '10.8.0.2', dst: '192.0.2.2', fragOffset: 185 * (1 + (i % 3)), moreFragments: i % 3 !== 2 }, payload: 1000 }), 1);
    add(rnd() * 6e8, v6('fd00::9', '2001:db8::9', { kind: 'udp', sport: 9, dport: 9 }, [{ type: 44, fragOffset: 100 + i }]), 2);
    events.push({ ns: Math.round(rnd() * 6e8), data: arpFrame(), dir: 1 });
    // Cut inside the IPv4 header: counted as malformed.
    events.push({ ns: Math.round(rnd() * 6e8), data: frame(v4('10.7.0.1', '192.0.2.7', { kind: 'tcp', sport: 1, dport: 2 })).subarray(0, 14 + 12), dir: 1, origLen: 60 });
    events.push({ ns: Math.round(rnd() * 6e8), data: Buffer.alloc(10, 1), dir: 1 });
  }
  for (let i = 0; i < 100; i++) events.push({ ns: Math.round(rnd() * 6e8), data: LONG_FRAME, dir: 2 });
  // A destination options header of 1,608 bytes in a frame of 600.
  for (let i = 0; i < 50; i++) events.push({ ns: Math.round(rnd() * 6e8), data: frame(v6('fd00::6', '2001:db8::6', { kind: 'udp', sport: 6, dport: 6 }, [{ type: 60, len: 200 }])).subarray(0, 600), dir: 2 });
  events.sort((a, b) => a.ns - b.ns);
  const base = 1_700_000_000;
  return events.map((e) => ({ data: e.data, sec: base + Math.floor(e.ns / 1e9), ns: e.ns % 1e9, dir: e.dir, ...(e.origLen ? { origLen: e.origLen } : {}) }));
}

function run(file: string, args: readonly string[], input?: Buffer): string {
  const r = spawnSync(process.execPath, [BIN, '-r', file, '--json', '--top', '100000', '--idle-timeout', '1000000', ...args], { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface Tick {
  flows: { proto: string | number; src: string; sport: number; dport: number; dir: string; packets: number; bytes: number; first_seen: string; last_seen: string; rtt_us: { last: number } | null }[];
  totals: { packets_in: number; packets_out: number };
  counters: { malformed: number; non_ip: number };
}

describe('tc-top -r on a mixed capture, in batches', kernelTest(), () => {
  const frames = mixedCapture();
  const file = join(dir, 'mixed.pcapng');
  writeFileSync(file, pcapng(frames, { interfaces: [{ tsresol: 9 }] }));
  const counted = frames.filter((f) => f.data.length >= 14).length;
  const out = frames.filter((f) => f.data.length >= 14 && f.dir === 2).length;

  for (const hook of ['tc', 'xdp'] as const) {
    it(`${hook}: every frame counted once, in its direction (XDP: all in), and every handshake timed`, () => {
      const t = JSON.parse(run(file, ['--hook', hook])) as Tick;
      assert.equal(t.totals.packets_in + t.totals.packets_out, counted);
      assert.equal(t.totals.packets_out, hook === 'tc' ? out : 0);
      assert.equal(t.counters.malformed, 200 + 50, 'the IPv4 headers cut short, and the extension headers past the end');
      assert.equal(t.counters.non_ip, 200);
      // 300 connections, each timed on both of its flows (direction is part of a flow's key).
      assert.equal(t.flows.filter((f) => f.rtt_us !== null).length, 600);
      const long = t.flows.filter((f) => f.sport === 7777);
      assert.deepEqual(long.map((f) => [f.dport, f.packets, f.bytes]), [[7, 100, 100 * LONG_FRAME.length]], 'the long IPv6 headers, read whole');
      // Each ran whole with its own time: first and last seen are the first and last of those frames (ms).
      const times = frames.filter((f) => f.data.equals(LONG_FRAME)).map((f) => f.sec * 1e3 + (f.ns ?? 0) / 1e6);
      assert.ok(Math.abs(Date.parse(long[0]!.first_seen) - times[0]!) <= 1, `first seen ${long[0]!.first_seen}`);
      assert.ok(Math.abs(Date.parse(long[0]!.last_seen) - times.at(-1)!) <= 1, `last seen ${long[0]!.last_seen}`);
    });
  }

  // Link types and standard input are tc-top's reading, not the kernel's: under emulation
  // (test:kernels) only the tests above, which run the batches on each kernel.
  const hostOnly = SLOW > 1 ? { skip: "tc-top's capture reading, not the kernel's: runs on the host (npm test)" } : {};

  it('raw IP and Linux cooked captures: headers longer than the prefix are read whole behind the made-up Ethernet header', hostOnly, () => {
    const udp = LONG_FRAME;
    const bad = frame(v6('fd00::6', '2001:db8::6', { kind: 'udp', sport: 6, dport: 6 }, [{ type: 60, len: 200 }])).subarray(0, 600);
    const ip = (f: Buffer) => f.subarray(14);
    const sll = (f: Buffer) => {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(4, 0); // outgoing
      h.writeUInt16BE(1, 2); // ARPHRD_ETHER
      h.writeUInt16BE(6, 4);
      h.writeUInt16BE(0x86dd, 14);
      return Buffer.concat([h, ip(f)]);
    };
    for (const [linkType, wrap] of [[101, ip], [113, sll]] as const) {
      const frames = [...Array.from({ length: 30 }, () => udp), ...Array.from({ length: 5 }, () => bad)].map((f, i) => ({ data: wrap(f), sec: 1_700_000_000, ns: i * 1000 }));
      const file = join(dir, `long-${linkType}.pcap`);
      writeFileSync(file, pcap(frames, { linkType, nano: true }));
      const t = JSON.parse(run(file, [])) as Tick;
      // Bytes on the wire: raw IP counts the IP packet, a cooked capture of an Ethernet device its Ethernet frame.
      const wire = linkType === 101 ? udp.length - 14 : udp.length;
      assert.deepEqual(t.flows.map((f) => [f.sport, f.dport, f.dir, f.packets, f.bytes]), [[7777, 7, linkType === 113 ? 'egress' : 'ingress', 30, 30 * wire]], `link type ${linkType}`);
      assert.equal(t.counters.malformed, 5, `link type ${linkType}`);
    }
  });

  it('standard input: the same table as the file', hostOnly, () => {
    const fromFile = run(file, []).replace(/"mixed\.pcapng"/g, '"stdin"');
    assert.equal(run('-', [], readFileSync(file)), fromFile);
  });
});
