/**
 * tc-top -r on replay lanes (worker threads, one per CPU): the lane of a frame (both directions of a
 * flow together, the flow's key read as the program reads it), and, on the kernel, the same tables
 * from the same capture whatever the number of lanes (TC_TOP_REPLAY_LANES, 0: the main thread),
 * for both hooks and every map kind: per-flow counts, first/last seen, handshake RTTs (which need each
 * connection's frames in order), the counters of refused and short frames, and each --follow-time
 * table (a snapshot sees every frame before its time and none after).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ethernetLane, ipLane } from '../src/collectors/flow-lane.js';
import { SLOW } from './helpers/kernel.js';
import { kernelTest } from './helpers/netns.js';
import { type FrameSpec, type L4, arpFrame, frame } from './helpers/packets.js';
import { type CapFrame, pcapng } from './helpers/pcap.js';
import { BIN } from './helpers/run.js';

const dir = mkdtempSync(join(tmpdir(), 'tct-lanes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The frame from the other end of its flow: addresses and ports swapped. */
function reverse(spec: FrameSpec): FrameSpec {
  const l4: L4 = 'sport' in spec.l4 ? { ...spec.l4, sport: spec.l4.dport, dport: spec.l4.sport } : spec.l4;
  return { ...spec, ip: { ...spec.ip, src: spec.ip.dst, dst: spec.ip.src }, l4 };
}

const lane = (spec: FrameSpec, lanes: number): number => {
  const f = frame(spec);
  return ethernetLane(f, 0, f.length, lanes);
};

const v4 = (src: string, dst: string, l4: L4, extra: Partial<FrameSpec> = {}): FrameSpec => ({ ip: { v: 4, src, dst }, l4, ...extra });
const v6 = (src: string, dst: string, l4: L4, ext: FrameSpec['ip'] extends infer I ? (I extends { v: 6; ext?: infer E } ? E : never) : never = []): FrameSpec => ({ ip: { v: 6, src, dst, ext }, l4 });

describe('the lane of a frame', () => {
  const flows: FrameSpec[] = [];
  for (let i = 0; i < 50; i++) {
    flows.push(v4(`10.0.${i}.1`, '192.0.2.9', { kind: 'tcp', sport: 40000 + i, dport: 443, flags: 0x02 }));
    flows.push(v4(`10.0.${i}.2`, '192.0.2.9', { kind: 'udp', sport: 5000 + i, dport: 53 }));
    flows.push(v4(`10.0.${i}.3`, '192.0.2.9', { kind: 'sctp', sport: 7000 + i, dport: 9 }));
    flows.push(v4(`10.0.${i}.4`, '192.0.2.9', { kind: 'udplite', sport: 7000 + i, dport: 9 }));
    flows.push(v6(`2001:db8::${i + 1}`, 'fd00::2', { kind: 'tcp', sport: 50000 + i, dport: 80, flags: 0x10 }));
    flows.push(v6(`2001:db8::${i + 1}`, 'fd00::2', { kind: 'udp', sport: 50000 + i, dport: 80 }, [{ type: 0 }, { type: 43 }, { type: 60 }, { type: 51 }]));
  }

  it('both directions of a flow share a lane, for any number of lanes', () => {
    for (const lanes of [2, 3, 4, 7])
      for (const f of flows) assert.equal(lane(reverse(f), lanes), lane(f, lanes), JSON.stringify(f));
  });

  it('VLAN tags (one, or 802.1ad and 802.1Q) do not move a flow', () => {
    for (const f of flows) {
      assert.equal(lane({ ...f, vlans: [[0x8100, 10]] }, 3), lane(f, 3));
      assert.equal(lane({ ...reverse(f), vlans: [[0x88a8, 20], [0x8100, 10]] }, 3), lane(f, 3));
    }
  });

  it('non-first fragments: keyed with ports 0, as the program keys them, in both directions', () => {
    for (let i = 0; i < 20; i++) {
      const frag = v4(`10.1.0.${i}`, '192.0.2.9', { kind: 'udp', sport: 1000, dport: 2000 }, { ip: { v: 4, src: `10.1.0.${i}`, dst: '192.0.2.9', fragOffset: 185 } });
      const other = v4('192.0.2.9', `10.1.0.${i}`, { kind: 'udp', sport: 3000, dport: 4000 }, { ip: { v: 4, src: '192.0.2.9', dst: `10.1.0.${i}`, fragOffset: 370 } });
      const raw = v4(`10.1.0.${i}`, '192.0.2.9', { kind: 'raw', proto: 17 });
      assert.equal(lane(other, 5), lane(frag, 5));
      assert.equal(lane(raw, 5), lane(frag, 5), 'the same key: addresses, UDP, ports 0');
      const frag6 = v6(`2001:db8::${i + 1}`, 'fd00::2', { kind: 'udp', sport: 1, dport: 2 }, [{ type: 0 }, { type: 44, fragOffset: 100 }]);
      const back6 = v6('fd00::2', `2001:db8::${i + 1}`, { kind: 'udp', sport: 3, dport: 4 }, [{ type: 44, fragOffset: 200 }]);
      assert.equal(lane(back6, 5), lane(frag6, 5));
    }
  });

  it('a frame with no flow key (not IP, cut inside the IP header) goes to lane 0; one lane is lane 0', () => {
    const arp = arpFrame();
    assert.equal(ethernetLane(arp, 0, arp.length, 4), 0);
    const cut = frame(flows[0]!).subarray(0, 14 + 19);
    assert.equal(ethernetLane(cut, 0, cut.length, 4), 0);
    assert.equal(ethernetLane(Buffer.alloc(10), 0, 10, 4), 0);
    const f = frame(flows[1]!);
    assert.equal(ethernetLane(f, 0, f.length, 1), 0);
    assert.equal(ipLane(f, 14, f.length, 0x0800, 1), 0);
    assert.equal(ipLane(f, 14, f.length, 0x0800, 4), ethernetLane(f, 0, f.length, 4), 'a cooked or raw capture: the IP packet alone');
  });

  it('flows spread over the lanes', () => {
    for (const lanes of [2, 3]) {
      const n = new Array<number>(lanes).fill(0);
      for (let i = 0; i < 3000; i++) n[lane(v4(`10.${i >> 8}.${i & 255}.1`, '192.0.2.9', { kind: 'tcp', sport: 1024 + i, dport: 443 }), lanes)]!++;
      for (const c of n) assert.ok(c > (3000 / lanes) * 0.8, `${n}`);
    }
  });
});

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

interface Event {
  readonly ns: number;
  readonly data: Buffer;
  readonly dir: 1 | 2;
  readonly origLen?: number;
}

/**
 * A capture to run on any number of lanes: 300 TCP connections (handshake, data both ways, some
 * with VLAN tags, a quarter over IPv6 with extension headers) interleaved in time, UDP, ICMP,
 * fragments, ARP, IPv4 headers cut short (the skb runner refuses them), frames shorter than an
 * Ethernet header; directions marked (TC runs both programs). About 12 MB: the 1 MiB rings wrap.
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
    // Cut inside the IPv4 header: refused by the skb test runner, counted as malformed.
    events.push({ ns: Math.round(rnd() * 6e8), data: frame(v4('10.7.0.1', '192.0.2.7', { kind: 'tcp', sport: 1, dport: 2 })).subarray(0, 14 + 12), dir: 1, origLen: 60 });
    events.push({ ns: Math.round(rnd() * 6e8), data: Buffer.alloc(10, 1), dir: 1 });
  }
  events.sort((a, b) => a.ns - b.ns);
  const base = 1_700_000_000;
  return events.map((e) => ({ data: e.data, sec: base + Math.floor(e.ns / 1e9), ns: e.ns % 1e9, dir: e.dir, ...(e.origLen ? { origLen: e.origLen } : {}) }));
}

function run(file: string, lanes: number, args: readonly string[], input?: Buffer): string {
  const idle = args.includes('--idle-timeout') ? [] : ['--idle-timeout', '1000000'];
  const r = spawnSync(process.execPath, [BIN, '-r', file, '--json', '--top', '100000', ...idle, ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, TC_TOP_REPLAY_LANES: String(lanes) },
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface JsonFlow {
  proto: string | number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  dir: string;
}

/**
 * The tables of a run, each with its flows and expired flows in one order: flows that tie on the
 * sort key, and expired flows, come in the map's order, which is the order their slots were taken
 * in (on lanes, the order in which the CPUs met them).
 */
function tables(out: string): unknown[] {
  const key = (f: JsonFlow) => `${f.proto} ${f.src} ${f.sport} ${f.dst} ${f.dport} ${f.dir}`;
  const order = (fs: JsonFlow[]) => [...fs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const t = JSON.parse(line) as { flows: JsonFlow[]; expired: JsonFlow[] };
      return { ...t, flows: order(t.flows), expired: order(t.expired) };
    });
}

interface Tick {
  flows: { rtt_us: { last: number } | null; packets: number }[];
  totals: { packets_in: number; packets_out: number };
  counters: { malformed: number; non_ip: number };
}

describe('tc-top -r on 0 to 3 lanes', kernelTest(), () => {
  const frames = mixedCapture();
  const file = join(dir, 'mixed.pcapng');
  writeFileSync(file, pcapng(frames, { interfaces: [{ tsresol: 9 }] }));
  const counted = frames.filter((f) => f.data.length >= 14).length;

  for (const hook of ['tc', 'xdp'] as const) {
    it(`${hook}: the same table on every number of lanes, with every frame counted and every handshake timed`, () => {
      const one = run(file, 0, ['--hook', hook]);
      const t = JSON.parse(one) as Tick;
      assert.equal(t.totals.packets_in + t.totals.packets_out, counted);
      assert.equal(t.counters.malformed, 200, 'the IPv4 headers cut short');
      assert.equal(t.counters.non_ip, 200);
      // 300 connections, each timed on both of its flows (direction is part of a flow's key).
      assert.equal(t.flows.filter((f) => f.rtt_us !== null).length, 600);
      for (const lanes of [1, 2, 3]) assert.deepEqual(tables(run(file, lanes, ['--hook', hook])), tables(one), `${lanes} lanes`);
    });
  }

  // How frames are spread over lanes and put back in order is tc-top's, not the kernel's: under
  // emulation (test:kernels) only the tests above, which run the lanes on each kernel's test runs.
  const hostOnly = SLOW > 1 ? { skip: "the lanes' order, not the kernel's: runs on the host (npm test)" } : {};

  it('--follow-time: each table on 2 and 3 lanes is the one the main thread gives', hostOnly, () => {
    const args = ['--follow-time', '-d', '0.05', '--idle-timeout', '0.2'];
    const one = run(file, 0, args);
    assert.ok(one.trim().split('\n').length >= 12, 'a table per 50 ms of capture time');
    assert.ok(one.includes('"expired":[{'), 'flows expired between tables');
    for (const lanes of [2, 3]) assert.deepEqual(tables(run(file, lanes, args)), tables(one), `${lanes} lanes`);
  });

  it('more flows than --max-flows: which flows the map keeps depends on the lanes\' order, every frame is still counted once', () => {
    const totals = (out: string) => {
      const t = JSON.parse(out) as { totals: Record<string, number>; counters: Record<string, number> };
      const { packets_in, packets_out, bytes_in, bytes_out } = t.totals;
      const { non_ip, non_ip_bytes, malformed, malformed_bytes, update_failed } = t.counters;
      return { packets_in, packets_out, bytes_in, bytes_out, non_ip, non_ip_bytes, malformed, malformed_bytes, update_failed };
    };
    const one = totals(run(file, 0, ['--max-flows', '64']));
    assert.equal(one.packets_in! + one.packets_out!, counted);
    for (const map of ['mmap', 'lru']) assert.deepEqual(totals(run(file, 2, ['--max-flows', '64', '--map', map])), one, map);
  });

  it('the lru and percpu maps, and standard input: the same table on 2 lanes as on the main thread', hostOnly, () => {
    for (const map of ['lru', 'percpu']) assert.deepEqual(tables(run(file, 2, ['--map', map])), tables(run(file, 0, ['--map', map])), map);
    const fromFile = run(file, 0, []).replace(/"mixed\.pcapng"/g, '"stdin"');
    assert.deepEqual(tables(run('-', 2, [], readFileSync(file))), tables(fromFile));
  });
});
