/**
 * What each hook counts of one real TCP transfer, held to the rule the README states, against the
 * receiving namespace's own IP counters (/proc/net/snmp and /proc/net/netstat in the namespace):
 * `Ip InReceives` counts the skbs IP received and `IpExt InOctets` their bytes from the IP header on,
 * while the ECN counters (`InNoECTPkts` and the three others) count every skb as its gso_segs
 * segments. Between veth ends the sender's TCP hands over super-packets of up to 64 kB, so the
 * receiver gets far fewer skbs than segments, and the rules give different numbers:
 *
 * - TC (tcx and legacy clsact): packets = segments (a GSO/GRO skb counts as its gso_segs), bytes =
 *   `skb->len` from the Ethernet header (a super-packet's headers once): InOctets + 14 × InReceives.
 * - XDP generic: runs on the skb, after GRO, and an XDP program cannot see gso_segs: packets = skbs
 *   (InReceives), bytes = the same as TC's.
 * - XDP native: runs on each frame the driver receives, before GRO: packets = segments, bytes =
 *   each frame's own length (every segment with its headers).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { TC_AUTO_MODE, wait } from './helpers/kernel.js';
import { type Bed, kernelTest, withBed } from './helpers/netns.js';
import { type Running, startTcTop } from './helpers/run.js';

const PAYLOAD = 2_000_000;
const ETH = 14;
/** Ethernet + IPv4 + TCP with timestamps (on by default): the headers every data segment carries. */
const SEGMENT_HEADERS = 14 + 20 + 32;

/** A sink in A (10.200.0.1:5201) that prints the bytes it read; the client in B sends PAYLOAD bytes. */
const SERVER = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.200.0.1", 5201)); s.listen(1)
print("ready", flush=True)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.close(); print(n, flush=True)
`;
const CLIENT = `
import socket
s = socket.create_connection(("10.200.0.1", 5201)); s.sendall(b"x" * ${PAYLOAD}); s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
`;

interface IpCounters {
  /** skbs IP received (Ip InReceives). */
  readonly skbs: number;
  /** The same as segments: the ECN counters add max(1, gso_segs) per skb. */
  readonly segments: number;
  /** Their bytes from the IP header on (IpExt InOctets). */
  readonly octets: number;
}

function ipCounters(bed: Bed): IpCounters {
  const text = bed.exec(bed.nsA, 'cat', ['/proc/net/snmp', '/proc/net/netstat']).trim().split('\n');
  const v = new Map<string, number>();
  for (let i = 0; i + 1 < text.length; i += 2) {
    const [group, ...names] = text[i]!.split(/\s+/);
    const values = text[i + 1]!.split(/\s+/).slice(1);
    names.forEach((n, j) => v.set(`${group}${n}`, Number(values[j])));
  }
  const get = (k: string) => {
    assert.ok(v.has(k), `${k} in /proc/net/snmp or netstat`);
    return v.get(k)!;
  };
  return {
    skbs: get('Ip:InReceives'),
    segments: get('IpExt:InNoECTPkts') + get('IpExt:InECT0Pkts') + get('IpExt:InECT1Pkts') + get('IpExt:InCEPkts'),
    octets: get('IpExt:InOctets'),
  };
}

/** One TCP transfer from B to A; the receiver's IP counters over it. */
async function transfer(bed: Bed): Promise<IpCounters> {
  const before = ipCounters(bed);
  const server = spawn('ip', ['netns', 'exec', bed.nsA, 'python3', '-c', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exit = new Promise<void>((resolve) => server.on('exit', () => resolve()));
  try {
    for (const end = Date.now() + wait(10_000); !out.includes('ready'); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > end) throw new Error('the TCP sink did not start');
    }
    bed.exec(bed.nsB, 'python3', ['-c', CLIENT]);
    await exit;
  } finally {
    server.kill('SIGKILL');
  }
  assert.equal(out.trim().split('\n').pop(), String(PAYLOAD), 'the sink read the whole payload');
  const after = ipCounters(bed);
  return { skbs: after.skbs - before.skbs, segments: after.segments - before.segments, octets: after.octets - before.octets };
}

interface Flow {
  readonly proto: string;
  readonly dir: string;
  readonly dport: number;
  readonly packets: number;
  readonly bytes: number;
}
interface Line {
  readonly hooks: { kind: string; mode: string; dir: string }[];
  readonly flows: Flow[];
}

async function watch(bed: Bed, args: readonly string[]): Promise<Running> {
  const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.2', ...args]);
  await run.waitFor(() => run.lines.length > 0, 15_000, `the first JSON line of ${args.join(' ')}`);
  return run;
}

/** The transfer's flow into A as a monitor counted it, once it has read the counters after the transfer. */
async function transferFlow(run: Running): Promise<{ line: Line; flow: Flow }> {
  const n = run.lines.length;
  await run.waitFor(() => run.lines.length >= n + 2, 5_000, 'two updates after the transfer');
  const line = JSON.parse(run.lines[run.lines.length - 1]!) as Line;
  const flow = line.flows.find((f) => f.proto === 'tcp' && f.dir === 'ingress' && f.dport === 5201);
  assert.ok(flow, `the transfer's flow in ${JSON.stringify(line.flows)}`);
  return { line, flow };
}

describe('what each hook counts of a TCP transfer of super-packets', kernelTest(), () => {
  it(`TC (auto: ${TC_AUTO_MODE}; legacy clsact): packets = segments; generic XDP: packets = skbs; bytes equal, headers once per skb`, (t) =>
    withBed(async (bed) => {
      const runs = [await watch(bed, []), await watch(bed, ['--tc-mode', 'legacy']), await watch(bed, ['--hook', 'xdp', '--xdp-mode', 'generic'])];
      try {
        const ip = await transfer(bed);
        const [tcx, legacy, generic] = await Promise.all(runs.map(transferFlow));
        t.diagnostic(`received ${JSON.stringify(ip)}; tcx ${tcx!.flow.packets}/${tcx!.flow.bytes}, generic XDP ${generic!.flow.packets}/${generic!.flow.bytes}`);
        assert.deepEqual(tcx!.line.hooks.map((h) => h.mode), [TC_AUTO_MODE, TC_AUTO_MODE]);
        assert.deepEqual(legacy!.line.hooks.map((h) => h.mode), ['clsact', 'clsact']);
        assert.deepEqual(generic!.line.hooks.map((h) => `${h.kind} ${h.mode}`), ['xdp generic']);
        // Otherwise the rules could not be told apart: most segments arrived inside super-packets.
        assert.ok(ip.skbs * 4 < ip.segments, `${ip.skbs} skbs carried ${ip.segments} segments`);
        assert.ok(ip.segments > PAYLOAD / 1500, `${ip.segments} segments for ${PAYLOAD} bytes`);

        const skbBytes = ip.octets + ETH * ip.skbs;
        for (const [name, r] of [[`auto (${TC_AUTO_MODE})`, tcx!], ['legacy clsact', legacy!]] as const) {
          assert.equal(r.flow.packets, ip.segments, `${name}: a super-packet counts as its segments`);
          assert.equal(r.flow.bytes, skbBytes, `${name}: bytes are skb->len, headers once per skb`);
        }
        assert.equal(generic!.flow.packets, ip.skbs, 'generic XDP: a super-packet counts as one frame');
        assert.equal(generic!.flow.bytes, skbBytes, 'generic XDP: bytes the same as TC');
        for (const r of runs) assert.equal(await r.stop('SIGINT'), 0, r.stderr());
      } finally {
        for (const r of runs) await r.stop('SIGKILL');
      }
    }));

  it('native XDP: packets = segments, bytes = each frame with its own headers; TC alongside still counts segments', (t) =>
    withBed(async (bed) => {
      // Native first: veth stops handing super-packets to an end with native XDP (its peer loses GSO).
      const runs = [await watch(bed, ['--hook', 'xdp', '--xdp-mode', 'native']), await watch(bed, [])];
      try {
        const ip = await transfer(bed);
        const [native, tcx] = await Promise.all(runs.map(transferFlow));
        t.diagnostic(`received ${JSON.stringify(ip)}; native XDP ${native!.flow.packets}/${native!.flow.bytes}, tcx ${tcx!.flow.packets}/${tcx!.flow.bytes}`);
        assert.deepEqual(native!.line.hooks.map((h) => `${h.kind} ${h.mode}`), ['xdp native']);
        assert.ok(ip.segments > PAYLOAD / 1500, `${ip.segments} segments for ${PAYLOAD} bytes`);

        assert.equal(native!.flow.packets, ip.segments, 'native XDP: one per frame, which is one per segment');
        // Segments that GRO merged after XDP each brought their own headers to XDP (none, when skbs = segments).
        assert.equal(native!.flow.bytes, ip.octets + ETH * ip.skbs + SEGMENT_HEADERS * (ip.segments - ip.skbs), 'native XDP: every frame whole');
        assert.equal(tcx!.flow.packets, ip.segments);
        assert.equal(tcx!.flow.bytes, ip.octets + ETH * ip.skbs);
        for (const r of runs) assert.equal(await r.stop('SIGINT'), 0, r.stderr());
      } finally {
        for (const r of runs) await r.stop('SIGKILL');
      }
    }));
});
