/**
 * tc-top -r on the real kernel: captures of scapy-built edge cases and of real traffic in test
 * namespaces, counted by the real binary, against an independent dissection (scapy, tshark); pcap
 * and pcapng of the same frames; the same traffic watched live and read from its capture; errors.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Bed, kernelTest, sh, withBed } from './helpers/netns.js';
import { BIN, startTcTop } from './helpers/run.js';
import { captureHolds, pcap } from './helpers/pcap.js';
import { wait } from './helpers/kernel.js';

const PY = '/usr/bin/python3'; // Debian's, where python3-scapy is installed
const CASES = new URL('./tools/pcap_cases.py', import.meta.url).pathname;
const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132, udplite: 136 };
const dir = mkdtempSync(join(tmpdir(), 'tct-pcap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface JsonFlow { proto: string | number; src: string; sport: number; dst: string; dport: number; dir: string; packets: number; bytes: number; first_seen: string; last_seen: string }
interface JsonTick { flows: JsonFlow[]; expired: JsonFlow[]; counters: Record<string, number>; totals: Record<string, number> }

function readCapture(file: string, args: readonly string[] = [], input?: Buffer): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, '-r', file, '--idle-timeout', '1000000', ...args], { input, encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function table(file: string, args: readonly string[] = []): JsonTick {
  const r = readCapture(file, ['--json', ...args]);
  assert.equal(r.status, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 1, 'one table, at the end');
  return JSON.parse(lines[0]!) as JsonTick;
}

/** The flows without the interface name (the file's name). */
const unnamed = (t: JsonTick) => t.flows.map(({ ifname: _, ...f }: JsonFlow & { ifname?: string }) => f);
const proto = (p: string | number) => (typeof p === 'number' ? p : PROTO[p]!);
/** "proto src sport dst dport[ dir]" -> [packets, bytes], flows and expired together. */
function byFlow(t: JsonTick, withDir = false): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const f of [...t.flows, ...t.expired]) {
    const k = `${proto(f.proto)} ${f.src} ${f.sport} ${f.dst} ${f.dport}${withDir ? ` ${f.dir}` : ''}`;
    const [p, b] = out[k] ?? [0, 0];
    out[k] = [p + f.packets, b + f.bytes];
  }
  return out;
}

describe('tc-top -r on scapy-built edge cases', kernelTest(), () => {
  const pcapFile = join(dir, 'cases.pcap');
  const ngFile = join(dir, 'cases.pcapng');
  const expect = JSON.parse(sh(PY, [CASES, pcapFile, ngFile])) as { flows: Record<string, [number, number]>; non_ip: [number, number]; malformed: [number, number] };

  for (const hook of ['tc', 'xdp'] as const) {
    for (const file of [pcapFile, ngFile]) {
      it(`${hook}, ${file.endsWith('ng') ? 'pcapng' : 'pcap'}: per-flow packets and bytes equal scapy's dissection under the flow rules`, () => {
        const t = table(file, ['--hook', hook]);
        assert.deepEqual(byFlow(t), expect.flows);
        assert.deepEqual([t.counters.non_ip, t.counters.non_ip_bytes], expect.non_ip);
        assert.deepEqual([t.counters.malformed, t.counters.malformed_bytes], expect.malformed);
        const frames = Object.values(expect.flows).reduce((s, [p]) => s + p, 0) + expect.non_ip[0] + expect.malformed[0];
        assert.equal(t.totals.packets_in, frames, 'every frame counted once, ingress');
        assert.ok(t.flows.every((f) => f.dir === 'ingress'));
      });
    }
  }

  it('pcap and pcapng of the same frames give the same table', () => {
    const a = table(pcapFile);
    const b = table(ngFile);
    assert.deepEqual(unnamed(b), unnamed(a));
    assert.deepEqual(b.counters, a.counters);
  });

  it('frame times drive first/last seen, and --follow-time prints a table per interval of capture time', () => {
    // The frames are 10 ms apart from 1700000000 s; the first three are the SYNs.
    const t = table(pcapFile);
    const syn = t.flows.find((f) => f.sport === 40000)!;
    assert.equal(syn.first_seen, '2023-11-14T22:13:20.000Z');
    assert.equal(syn.last_seen, '2023-11-14T22:13:20.020Z');
    const r = readCapture(pcapFile, ['--json', '--follow-time', '-d', '0.1']);
    assert.equal(r.status, 0, r.err);
    const ticks = r.out.trim().split('\n').map((l) => JSON.parse(l) as JsonTick & { time: string });
    assert.ok(ticks.length >= 4, `${ticks.length} tables`);
    assert.equal((ticks[0] as { time: string }).time, '2023-11-14T22:13:20.100Z');
    assert.equal(ticks[0]!.totals.packets_in, 10, 'the frames of the first 100 ms');
    assert.deepEqual(byFlow(ticks.at(-1)!), expect.flows);
  });

  it('standard input (-r -), --filter, --aggregate and --top apply', () => {
    const r = readCapture('-', ['--json', '--filter', 'udp and ip6', '--top', '2', '--aggregate', 'dst'], readFileSync(pcapFile));
    assert.equal(r.status, 0, r.err);
    const t = JSON.parse(r.out) as { groups: { key: string; packets: number }[]; interfaces: string[] };
    assert.deepEqual(t.interfaces, ['stdin']);
    assert.ok(t.groups.length >= 1 && t.groups.length <= 2);
    assert.ok(t.groups.every((g) => g.key.includes('2001:db8::2')), JSON.stringify(t.groups));
  });
});

describe('tc-top -r: a file it cannot read', kernelTest(), () => {
  it('not a capture, an unsupported link type: one line, exit 1', () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'these are not packets\n');
    let r = readCapture(text, ['--json']);
    assert.equal(r.status, 1);
    assert.equal(r.err, `tc-top: ${text} is not a pcap or pcapng capture (it begins with 74686573)\n`);
    assert.equal(r.out, '');
    const wifi = join(dir, 'wifi.pcap');
    writeFileSync(wifi, pcap([{ data: Buffer.alloc(60), sec: 1 }], { linkType: 127 }));
    r = readCapture(wifi, ['--batch']);
    assert.equal(r.status, 1);
    assert.match(r.err, /^tc-top: .*wifi\.pcap: unsupported link type IEEE 802\.11 radiotap \(127\): tc-top reads Ethernet, Linux cooked \(SLL, SLL2\) and raw IP captures\n$/);
  });

  it('a truncated file: the table of what was read, then one line, exit 1', () => {
    const whole = readFileSync(join(dir, 'cases.pcap'));
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, whole.length - 5));
    const r = readCapture(cut, ['--json']);
    assert.equal(r.status, 1);
    assert.match(r.err, /^tc-top: .*cut\.pcap is truncated: it ends inside a record \(\d+ bytes after frame \d+\)\n$/);
    const t = JSON.parse(r.out) as JsonTick;
    const all = table(join(dir, 'cases.pcap')).totals.packets_in!;
    assert.equal(t.totals.packets_in, all - 1, 'every frame but the one cut');
  });
});

function tsharkFlows(file: string): Record<string, [number, number]> {
  const fields = ['frame.len', 'ip.proto', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'icmp.type', 'icmp.code'];
  const out = sh('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=,', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])]);
  const flows: Record<string, [number, number]> = {};
  for (const line of out.trim().split('\n')) {
    const [len, p, src, dst, ts, td, us, ud, it, ic] = line.split(',');
    if (!p) continue; // not IPv4 (ARP)
    const [sport, dport] = p === '6' ? [ts, td] : p === '17' ? [us, ud] : p === '1' ? ['0', String(Number(it) * 256 + Number(ic))] : ['0', '0'];
    const k = `${p} ${src} ${sport} ${dst} ${dport}`;
    const [n, b] = flows[k] ?? [0, 0];
    flows[k] = [n + 1, b + Number(len)];
  }
  return flows;
}

/** Traffic between the two ends: UDP both ways, a TCP exchange of small writes (one segment each, no GSO), pings (the test hosts have no ping). */
function traffic(bed: Bed): void {
  const py = (ns: string, code: string) => spawn('ip', ['netns', 'exec', ns, PY, '-c', code], { stdio: 'ignore' });
  const server = py(bed.nsA, `
import socket, threading, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('10.200.0.1', 7001))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(('10.200.0.1', 7002)); t.listen(1)
def udp():
    while True:
        d, a = u.recvfrom(2000); u.sendto(d[:100], a)
threading.Thread(target=udp, daemon=True).start()
c, _ = t.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    d = c.recv(4096)
    if not d: break
    c.send(b'k' * 10)
c.close(); time.sleep(1)`);
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    bed.exec(bed.nsB, PY, ['-c', `
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
for i in range(20):
    u.sendto(b'x' * (100 + i * 10), ('10.200.0.1', 7001)); u.recvfrom(2000)
t = socket.create_connection(('10.200.0.1', 7002)); t.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(10):
    t.send(b'y' * 200); t.recv(100)
t.close(); time.sleep(0.3)
import struct
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); return ~(s + (s >> 16)) & 0xffff
ic = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); ic.settimeout(2)
for i in range(5):
    body = struct.pack('!HH', 7, i) + b'p' * 32
    ic.sendto(struct.pack('!BBH', 8, 0, csum(bytes([8, 0, 0, 0]) + body)) + body, ('10.200.0.1', 0)); ic.recv(2000)
time.sleep(0.2)`]);
  } finally {
    server.kill('SIGKILL');
  }
}

describe('tc-top -r on captures of real traffic', kernelTest(), () => {
  it('tcpdump -w: per-flow counts equal tshark\'s dissection; pcap and pcapng (editcap) the same table', async () => {
    await withBed(async (bed) => {
      const file = join(dir, 'real.pcap');
      const dump = spawn('ip', ['netns', 'exec', bed.nsA, 'tcpdump', '-i', bed.ifA, '-w', file, '-U'], { stdio: ['ignore', 'ignore', 'pipe'] });
      try {
        await new Promise<void>((resolve) => dump.stderr!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));
        traffic(bed);
        // tcpdump stops at SIGINT without reading what is still in its socket's buffer: on a loaded
        // machine the last exchange (the ICMP echoes) could be left there.
        await new Promise((r) => setTimeout(r, 700));
      } finally {
        dump.kill('SIGINT');
        await new Promise((r) => dump.on('exit', r));
      }
      const t = table(file);
      const expect = tsharkFlows(file);
      assert.ok(Object.keys(expect).length >= 6, JSON.stringify(expect));
      assert.deepEqual(byFlow(t), expect);
      const ng = join(dir, 'real.pcapng');
      sh('editcap', ['-F', 'pcapng', file, ng]);
      const n = table(ng);
      assert.deepEqual(unnamed(n), unnamed(t));
      assert.deepEqual(n.counters, t.counters);
    });
  });

  it('the same traffic watched live on TC and read from its capture (tcpdump -i any, cooked with directions): the same flows and counts', async () => {
    await withBed(async (bed) => {
      const file = join(dir, 'live.pcap');
      const live = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.3', '--no-drop-privileges']);
      try {
        await live.waitFor(() => live.lines.length > 0, 15_000, 'the first live tick');
        const dump = spawn('ip', ['netns', 'exec', bed.nsA, 'tcpdump', '-i', 'any', '-y', 'LINUX_SLL2', '-w', file, '-U'], { stdio: ['ignore', 'ignore', 'pipe'] });
        try {
          await new Promise<void>((resolve) => dump.stderr!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));
          const before = live.lines.length;
          traffic(bed);
          await live.waitFor(() => live.lines.length > before + 3, 10_000, 'ticks after the traffic');
          // Every frame counted live is in the file before tcpdump stops.
          const counted = Object.values(byFlow(JSON.parse(live.lines.at(-1)!) as JsonTick, true)).reduce((n, [p]) => n + p, 0);
          await captureHolds(() => sh('tcpdump', ['-r', file], { allowFail: true }).trim().split('\n').length >= counted, wait(10_000));
        } finally {
          // Also when the traffic fails: tcpdump must not outlive the test.
          dump.kill('SIGINT');
          await new Promise((r) => dump.on('exit', r));
        }
      } finally {
        await live.stop();
      }
      const watched = byFlow(JSON.parse(live.lines.at(-1)!) as JsonTick, true);
      const read = byFlow(table(file), true);
      assert.ok(Object.keys(read).some((k) => k.endsWith('egress')) && Object.keys(read).some((k) => k.endsWith('ingress')), `both directions read from the capture:\n${JSON.stringify(read, null, 1)}\nwatched live:\n${JSON.stringify(watched, null, 1)}`);
      assert.deepEqual(read, watched);
    });
  });
});
