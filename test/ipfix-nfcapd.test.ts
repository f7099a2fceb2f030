/**
 * --ipfix as a real collector sees it: tc-top runs with --json in a test namespace and exports to
 * Debian's nfcapd listening on that namespace's loopback (tc-top watches the veth, so the export
 * itself is not counted); known traffic crosses the veth (UDP, TCP and ICMP over IPv4 and IPv6);
 * after the run `nfdump -R DIR -o json` must list exactly the flows of tc-top's JSON, each with the
 * packets and bytes the JSON last reported for it (its expired entries plus its last count). tshark,
 * capturing the export on the loopback, must decode every message without an error.
 *
 * The second test restarts nfcapd in the middle of a run: while it is down the sends fail (counted in
 * the JSON, the run goes on); once it is back, the records sent before the next template refresh are
 * dropped by it (it has no template for them: RFC 7011 over UDP), and every record sent from that
 * refresh on is decoded, to the packet.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Bed, IN_CI, kernelTest, withBed } from './helpers/netns.js';
import { startTcTop } from './helpers/run.js';

const HAS_TOOLS = [['nfcapd', '-V'], ['nfdump', '-V'], ['tshark', '-v']].every(([t, v]) => spawnSync(t!, [v!], { stdio: 'ignore' }).status === 0);

/** Kernel test rules, and nfdump and tshark on the PATH (required under CI=true, where .ci/run installs them). */
function collectorTest(): { skip?: string } {
  const kernel = kernelTest();
  if (kernel.skip) return kernel;
  if (!HAS_TOOLS && !IN_CI) return { skip: 'needs nfcapd, nfdump and tshark: apt-get install nfdump tshark' };
  return {};
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

/** A child in a namespace whose stderr and stdout are kept; resolves once `ready` shows in them. */
async function startIn(bed: Bed, ns: string, cmd: string, args: readonly string[], ready: RegExp): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  for (const s of [child.stdout!, child.stderr!]) s.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-20_000)));
  const end = Date.now() + 20_000;
  while (!ready.test(log)) {
    if (child.exitCode !== null) throw new Error(`${cmd} exited (${child.exitCode}): ${log}`);
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} did not start: ${log}`);
    }
    await sleep(50);
  }
  return { child, log: () => log };
}

function startNfcapd(bed: Bed, dir: string, port: number) {
  return startIn(bed, bed.nsA, 'nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600'], /Startup nfcapd/);
}

function startCapture(bed: Bed, file: string, port: number) {
  return startIn(bed, bed.nsA, 'tshark', ['-i', 'lo', '-f', `udp port ${port}`, '-w', file], /Capturing on/);
}

/** 'fd00:200::2' and 'fd00:200:0:0:0:0:0:2' alike: eight groups, no leading zeros. */
function normal(addr: string): string {
  if (!addr.includes(':')) return addr;
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

interface Counts {
  packets: number;
  bytes: number;
}

function add(map: Map<string, Counts>, key: string, packets: number, bytes: number): void {
  const c = map.get(key) ?? { packets: 0, bytes: 0 };
  c.packets += packets;
  c.bytes += bytes;
  map.set(key, c);
}

interface JsonFlow {
  proto: string | number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  dir: string;
  packets: number;
  bytes: number;
}

function jsonKey(f: JsonFlow): string {
  const proto = typeof f.proto === 'number' ? f.proto : (PROTO[f.proto] ?? Number(f.proto));
  return `${proto} ${normal(f.src)} ${f.sport} > ${normal(f.dst)} ${f.dport} ${f.dir}`;
}

/** Each flow's count from tc-top's JSON lines: its expired entries, plus its count in the last line. */
function jsonTotals(lines: readonly string[]): Map<string, Counts> {
  const parsed = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { flows: JsonFlow[]; expired: JsonFlow[] });
  const totals = new Map<string, Counts>();
  for (const line of parsed) for (const f of line.expired) add(totals, jsonKey(f), f.packets, f.bytes);
  for (const f of parsed.at(-1)?.flows ?? []) add(totals, jsonKey(f), f.packets, f.bytes);
  return totals;
}

interface NfRecord {
  proto: number;
  src4_addr?: string;
  dst4_addr?: string;
  src6_addr?: string;
  dst6_addr?: string;
  src_port?: number;
  dst_port?: number;
  icmp_type?: number;
  icmp_code?: number;
  direction: number;
  in_packets: number;
  in_bytes: number;
  input_snmp: number;
  output_snmp: number;
}

function nfdumpRecords(dir: string): NfRecord[] {
  const r = spawnSync('nfdump', ['-R', dir, '-o', 'json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `nfdump: ${r.stderr}`);
  const text = r.stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as NfRecord[]);
}

function nfKey(r: NfRecord): string {
  const icmp = r.proto === 1 || r.proto === 58;
  const dport = icmp ? (r.icmp_type ?? 0) * 256 + (r.icmp_code ?? 0) : (r.dst_port ?? 0);
  return `${r.proto} ${normal(r.src4_addr ?? r.src6_addr!)} ${icmp ? 0 : (r.src_port ?? 0)} > ${normal(r.dst4_addr ?? r.dst6_addr!)} ${dport} ${r.direction === 1 ? 'egress' : 'ingress'}`;
}

function nfTotals(records: readonly NfRecord[]): Map<string, Counts> {
  const totals = new Map<string, Counts>();
  for (const r of records) add(totals, nfKey(r), r.in_packets, r.in_bytes);
  return totals;
}

/** The end reason of each record, by flow key, from nfdump's raw output. */
function endReasons(dir: string): Map<string, number[]> {
  const r = spawnSync('nfdump', ['-R', dir, '-o', 'raw'], { encoding: 'utf8' });
  const out = new Map<string, number[]>();
  for (const block of r.stdout.split('Flow Record:').slice(1)) {
    const field = (name: string) => new RegExp(`^\\s*${name}\\s*=\\s*(\\S+)`, 'm').exec(block)?.[1];
    const reason = field('end reason');
    const key = `${field('src addr')} ${field('src port')} > ${field('dst addr')} ${field('dst port')}`;
    if (reason) out.set(key, [...(out.get(key) ?? []), Number(reason)]);
  }
  return out;
}

/** Sinks in A: UDP on 5001 (IPv4) and 5002 (IPv6), TCP echo-less servers on 5003 (both families). */
const SERVERS = `
const dgram = require('node:dgram'), net = require('node:net');
dgram.createSocket('udp4').bind(5001, '10.200.0.1').on('message', () => {});
dgram.createSocket('udp6').bind(5002, 'fd00:200::1').on('message', () => {});
for (const host of ['10.200.0.1', 'fd00:200::1']) net.createServer((c) => { c.on('data', () => {}); c.on('end', () => c.end()); }).listen(5003, host);
setTimeout(() => process.exit(0), 60000);
console.log('ready');
`;

/**
 * From B: a short UDP burst (expires by --idle-timeout before the active timeout), a 6 s UDP stream
 * (active-timeout records, then the end of the run's), a UDP burst over IPv6, a TCP transfer each over IPv4 and IPv6.
 */
const TRAFFIC = `
const dgram = require('node:dgram'), net = require('node:net');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function burst(type, host, sport, dport, n, size, gapMs) {
  const s = dgram.createSocket(type);
  await new Promise((r) => s.bind(sport, type === 'udp4' ? '10.200.0.2' : 'fd00:200::2', r));
  for (let i = 0; i < n; i++) {
    await new Promise((r) => s.send(Buffer.alloc(size, i), dport, host, r));
    await sleep(i === 0 ? 200 : gapMs);
  }
  s.close();
}
function tcp(host, local, bytes) {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port: 5003, localAddress: local }, () => c.end(Buffer.alloc(bytes, 1)));
    c.on('data', () => {});
    c.on('close', resolve);
    c.on('error', reject);
  });
}
(async () => {
  await burst('udp4', '10.200.0.1', 41001, 5001, 20, 300, 5);
  await Promise.all([
    burst('udp4', '10.200.0.1', 41002, 5001, 120, 700, 50),
    burst('udp6', 'fd00:200::1', 41003, 5002, 30, 500, 20),
    tcp('10.200.0.1', '10.200.0.2', 200000),
    tcp('fd00:200::1', 'fd00:200::2', 150000),
  ]);
})().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
`;

/**
 * ICMP and ICMPv6 both ways without ping: datagrams to a closed port, from `ns` to `to` and `to6`,
 * whose hosts answer with port unreachable (type 3 code 3; ICMPv6 type 1 code 4).
 */
function unreachable(bed: Bed, ns: string, to: string, to6: string): void {
  const script = `
    const dgram = require('node:dgram');
    let left = 8;
    for (const [type, host] of [['udp4', '${to}'], ['udp6', '${to6}']]) {
      const s = dgram.createSocket(type);
      s.on('error', () => {});
      for (let i = 0; i < 4; i++) setTimeout(() => s.send(Buffer.alloc(64), 5999, host, () => { if (--left === 0) setTimeout(() => process.exit(0), 200); }), 100 * i);
    }`;
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `datagrams to a closed port: ${r.stderr}`);
}

/** tshark's decoding of a capture as IPFIX: the number of messages, and any malformed or error-level frame. */
function tsharkCheck(file: string, port: number): { messages: number; problems: string } {
  const d = ['-r', file, '-d', `udp.port==${port},cflow`];
  const messages = spawnSync('tshark', [...d, '-Y', 'cflow.version == 10', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length;
  const problems = spawnSync('tshark', [...d, '-Y', '_ws.malformed || _ws.expert.severity >= "warning" || !cflow'], { encoding: 'utf8' }).stdout.trim();
  return { messages, problems };
}

describe('--ipfix received by a real collector (nfcapd)', collectorTest(), () => {
  it('nfdump lists exactly the flows and counts of tc-top --json: IPv4 and IPv6, TCP, UDP and ICMP', () =>
    withBed(
      async (bed) => {
        const dir = mkdtempSync(join(tmpdir(), 'tctop-ipfix-'));
        const flows = join(dir, 'flows');
        spawnSync('mkdir', [flows]);
        const pcap = join(dir, 'export.pcap');
        const port = 4739;
        let nfcapd: Awaited<ReturnType<typeof startNfcapd>> | undefined;
        let capture: Awaited<ReturnType<typeof startCapture>> | undefined;
        let servers: Awaited<ReturnType<typeof startIn>> | undefined;
        let run: ReturnType<typeof startTcTop> | undefined;
        let code: number | string | undefined;
        try {
          nfcapd = await startNfcapd(bed, flows, port);
          capture = await startCapture(bed, pcap, port);
          servers = await startIn(bed, bed.nsA, process.execPath, ['-e', SERVERS], /ready/);
          run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.5', '--idle-timeout', '2', '--ipfix', `127.0.0.1:${port}`, '--ipfix-active-timeout', '3']);
          await run.waitFor(() => run!.lines.length >= 1, 15_000, 'the first JSON line');
          assert.match(run.stderr(), /ipfix to 127\.0\.0\.1:4739/);

          const traffic = spawn('ip', ['netns', 'exec', bed.nsB, process.execPath, '-e', TRAFFIC], { stdio: ['ignore', 'ignore', 'pipe'] });
          let trafficErr = '';
          traffic.stderr!.setEncoding('utf8').on('data', (d: string) => (trafficErr += d));
          const trafficDone = new Promise<number | null>((resolve) => traffic.on('exit', resolve));
          unreachable(bed, bed.nsB, '10.200.0.1', 'fd00:200::1');
          unreachable(bed, bed.nsA, '10.200.0.2', 'fd00:200::2');
          assert.equal(await trafficDone, 0, `traffic: ${trafficErr}`);
          await sleep(1200);
          code = await run.stop('SIGINT');
        } finally {
          if (run) await run.stop('SIGKILL');
          await sleep(300);
          if (servers) await stopChild(servers.child, 'SIGKILL');
          if (capture) await stopChild(capture.child, 'SIGINT');
          if (nfcapd) await stopChild(nfcapd.child);
        }
        try {
          assert.equal(code, 0, `tc-top exit: ${run!.stderr()}`);
          const json = jsonTotals(run!.lines);
          const nf = nfTotals(nfdumpRecords(flows));
          const show = (m: Map<string, Counts>) => [...m].map(([k, c]) => `${k}: ${c.packets} pkts ${c.bytes} B`).sort().join('\n');
          assert.equal(show(nf), show(json), 'nfdump (left) against tc-top --json (right)');

          // Every kind of flow is there.
          const keys = [...json.keys()];
          for (const want of [/^17 10\.200\.0\.2 41001 > 10\.200\.0\.1 5001 ingress$/, /^17 10\.200\.0\.2 41002 > 10\.200\.0\.1 5001 ingress$/, /^17 fd00:200:0:0:0:0:0:2 41003 > fd00:200:0:0:0:0:0:1 5002 ingress$/,
            /^6 10\.200\.0\.2 \d+ > 10\.200\.0\.1 5003 ingress$/, /^6 10\.200\.0\.1 5003 > 10\.200\.0\.2 \d+ egress$/, /^6 fd00:200:0:0:0:0:0:2 \d+ > fd00:200:0:0:0:0:0:1 5003 ingress$/,
            /^1 10\.200\.0\.2 0 > 10\.200\.0\.1 771 ingress$/, /^1 10\.200\.0\.1 0 > 10\.200\.0\.2 771 egress$/, /^58 fd00:200:0:0:0:0:0:2 0 > fd00:200:0:0:0:0:0:1 260 ingress$/, /^58 fd00:200:0:0:0:0:0:1 0 > fd00:200:0:0:0:0:0:2 260 egress$/]) {
            assert.ok(keys.some((k) => want.test(k)), `a flow ${want} in ${keys.join(', ')}`);
          }
          assert.equal(json.get('17 10.200.0.2 41002 > 10.200.0.1 5001 ingress')?.packets, 120);

          // The burst expired (idle timeout); the 6 s stream came as several records (active timeouts, then the end of the run).
          const reasons = endReasons(flows);
          assert.deepEqual(reasons.get('10.200.0.2 41001 > 10.200.0.1 5001'), [0x01]);
          const stream = reasons.get('10.200.0.2 41002 > 10.200.0.1 5001') ?? [];
          assert.ok(stream.length >= 2 && stream.slice(0, -1).every((r) => r === 0x02), `the stream's records: ${stream}`);
          const streamRecords = nfdumpRecords(flows).filter((r) => r.src_port === 41002);
          assert.equal(streamRecords.reduce((n, r) => n + r.in_packets, 0), 120, 'the records of the long flow add up to it');

          const ts = tsharkCheck(pcap, port);
          assert.ok(ts.messages >= 3, `tshark decoded ${ts.messages} IPFIX messages`);
          assert.equal(ts.problems, '', 'tshark: malformed or error frames');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      { quiet: false },
    ));

  it('a collector restarted mid-run decodes every record sent from the next template refresh on', () =>
    withBed(async (bed) => {
      const dir = mkdtempSync(join(tmpdir(), 'tctop-ipfix-'));
      const before = join(dir, 'before');
      const after = join(dir, 'after');
      for (const d of [before, after]) spawnSync('mkdir', [d]);
      const pcap = join(dir, 'export.pcap');
      const port = 4740;
      let nfcapd: Awaited<ReturnType<typeof startNfcapd>> | undefined;
      let capture: Awaited<ReturnType<typeof startCapture>> | undefined;
      let servers: Awaited<ReturnType<typeof startIn>> | undefined;
      let run: ReturnType<typeof startTcTop> | undefined;
      let stream: ChildProcess | undefined;
      let restartedAt = 0;
      let code: number | string | undefined;
      try {
        nfcapd = await startNfcapd(bed, before, port);
        capture = await startCapture(bed, pcap, port);
        servers = await startIn(bed, bed.nsA, process.execPath, ['-e', SERVERS], /ready/);
        run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.25', '--ipfix', `127.0.0.1:${port}`, '--ipfix-active-timeout', '1', '--ipfix-template-refresh', '3']);
        await run.waitFor(() => run!.lines.length >= 1, 15_000, 'the first JSON line');
        // A UDP stream of 20 datagrams a second for the whole test.
        stream = spawn('ip', ['netns', 'exec', bed.nsB, process.execPath, '-e', `
          const s = require('node:dgram').createSocket('udp4');
          s.bind(42000, '10.200.0.2', () => setInterval(() => s.send(Buffer.alloc(400), 5001, '10.200.0.1'), 50));
          setTimeout(() => process.exit(0), 60000);`], { stdio: 'ignore' });
        await sleep(3000);
        await stopChild(nfcapd.child);
        await sleep(2000);
        nfcapd = await startNfcapd(bed, after, port);
        // Listening from here (it says so once bound).
        restartedAt = Date.now() / 1000;
        await sleep(6000);
        await stopChild(stream, 'SIGKILL');
        await sleep(600);
        code = await run.stop('SIGTERM');
      } finally {
        if (stream) await stopChild(stream, 'SIGKILL');
        if (run) await run.stop('SIGKILL');
        await sleep(300);
        if (servers) await stopChild(servers.child, 'SIGKILL');
        if (capture) await stopChild(capture.child, 'SIGINT');
        if (nfcapd) await stopChild(nfcapd.child);
      }
      try {
        assert.equal(code, 0, `tc-top exit: ${run!.stderr()}`);
        // While nfcapd was down the sends failed (ICMP port unreachable), and the JSON said so; the run went on.
        const lines = run!.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { ipfix: { send_errors: number; records: number; collector: string; last_error: string | null } });
        const last = lines.at(-1)!.ipfix;
        assert.equal(last.collector, `127.0.0.1:${port}`);
        assert.ok(last.send_errors > 0, `send errors ${last.send_errors}`);
        assert.equal(lines.find((l) => l.ipfix.send_errors > 0)?.ipfix.last_error, 'ECONNREFUSED');

        // From the capture: each message's time, whether it holds templates, and the stream's packets in it.
        const t = spawnSync(
          'tshark',
          ['-r', pcap, '-d', `udp.port==${port},cflow`, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.time_epoch', '-e', 'cflow.template_id', '-e', 'cflow.srcport', '-e', 'cflow.packets'],
          { encoding: 'utf8' },
        ).stdout.trim().split('\n').map((l) => l.split('\t'));
        const firstTemplates = t.find(([time, templates]) => Number(time) > restartedAt && templates !== '')![0];
        let decodable = 0;
        let lost = 0;
        for (const [time, , sports, packets] of t) {
          if (!sports || Number(time) <= restartedAt) continue;
          const sp = sports.split(',');
          const pk = (packets ?? '').split(',');
          const n = sp.reduce((s, p, k) => s + (p === '42000' ? Number(pk[k]) : 0), 0);
          if (Number(time) >= Number(firstTemplates)) decodable += n;
          else lost += n;
        }
        const got = nfdumpRecords(after).filter((r) => r.src_port === 42000).reduce((n, r) => n + r.in_packets, 0);
        assert.ok(decodable > 0, 'records sent after the refresh');
        assert.equal(got, decodable, `nfcapd after its restart: every packet of the records sent from the first template refresh on (${lost} packets before it were dropped)`);
        assert.equal(tsharkCheck(pcap, port).problems, '', 'tshark: malformed or error frames');
        assert.ok(readdirSync(after).length > 0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }));
});
