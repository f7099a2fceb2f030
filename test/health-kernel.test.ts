/**
 * Health on the real kernel, between test namespaces: the real binary's RTT against the socket's
 * own (`ss -ti`), its retransmits against iperf3's, its drops against an nft rule's counter and the
 * namespace's UDP counters, traffic of another namespace left out, and --no-tcp-stats loading
 * nothing more. Every nft table and qdisc made here goes with its namespace in a finally.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { heldPrograms } from '../src/collectors/leftovers.js';
import { IN_CI, kernelTest, sh, withBed, type Bed } from './helpers/netns.js';
import { BIN, startTcTop, type Running } from './helpers/run.js';

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const TOOLS = ['nft', 'iperf3', 'ss', 'nstat', 'bpftool'];
const missing = TOOLS.filter((t) => !has(t));
/** Under CI=true a missing tool fails the test instead of skipping it. */
const opts = missing.length > 0 && !IN_CI ? { skip: `needs ${missing.join(', ')} (apt-get install nftables iperf3 iproute2 bpftool)` } : kernelTest();

interface Flow {
  proto: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  dir: string;
  packets: number;
  rtt_us?: { last: number; min: number | null; max: number | null } | null;
  retrans?: number | null;
  drops?: Record<string, number> | null;
}
interface Line {
  time: string;
  flows: Flow[];
}

const lines = (run: Running): Line[] => run.lines.map((l) => JSON.parse(l) as Line);
const last = (run: Running): Line | undefined => lines(run).at(-1);

function find(line: Line | undefined, pred: (f: Flow) => boolean): Flow | undefined {
  return line?.flows.find(pred);
}

/** A command in a namespace, in the background; killed by stop(). */
function background(ns: string, cmd: string, args: readonly string[]) {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    out: () => out,
    exited: () => exit,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ss -tin: the smoothed RTT (µs) of each TCP socket to :5201 in the namespace, by local port. */
function ssRtt(bed: Bed, ns: string, port: number): Map<number, number> {
  const out = bed.exec(ns, 'ss', ['-tinH', 'state', 'established', `( dport = :${port} )`], { allowFail: true });
  const rtts = new Map<number, number>();
  let local: number | undefined;
  for (const line of out.split('\n')) {
    const sock = /^\s*\d+\s+\d+\s+\S+:(\d+)\s+\S+:\d+/.exec(line);
    if (sock) local = Number(sock[1]);
    const rtt = /\brtt:([\d.]+)\//.exec(line);
    if (rtt && local !== undefined) {
      rtts.set(local, Math.round(Number(rtt[1]) * 1000));
      local = undefined;
    }
  }
  return rtts;
}

/**
 * Samples of `ss` every 150 ms while `during` runs, then each checked against tc-top's min..max of
 * the interval it fell in (20% slack; samples within 60 ms of an interval's edge are left out).
 * Returns how many samples were checked and the highest RTT (µs) each saw.
 */
async function checkRtt(bed: Bed, run: Running, during: () => Promise<void>, port: number): Promise<{ checked: number; ssMax: number; tcTopMax: number }> {
  // Each sample spans the time ss took ([ms, until]: long on a slow or emulated machine).
  const samples: { ms: number; until: number; port: number; rtt: number }[] = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const ms = Date.now();
      const rtts = ssRtt(bed, bed.nsA, port);
      const until = Date.now();
      for (const [p, rtt] of rtts) samples.push({ ms, until, port: p, rtt });
      await sleep(150);
    }
  })();
  await during();
  done = true;
  await sampler;
  await sleep(1200); /* the interval of the last samples ends */
  const ls = lines(run);
  let checked = 0;
  let ssMax = 0;
  let tcTopMax = 0;
  const misses: string[] = [];
  for (const s of samples) {
    const k = ls.findIndex((l) => Date.parse(l.time) >= s.ms);
    if (k < 1) continue;
    const [from, to] = [Date.parse(ls[k - 1]!.time), Date.parse(ls[k]!.time)];
    if (s.ms - from < 60 || to - s.until < 60) continue;
    const f = find(ls[k], (x) => x.proto === 'tcp' && x.dir === 'egress' && x.sport === s.port && x.dport === port);
    const rtt = f?.rtt_us;
    if (!rtt) {
      misses.push(`ss ${s.rtt}us at +${s.ms - from}ms: tc-top has no RTT for port ${s.port}`);
      continue;
    }
    // No ACK in the interval (iperf3's idle control connection): the RTT stayed the last one.
    const [min, max] = rtt.min === null || rtt.max === null ? [rtt.last, rtt.last] : [rtt.min, rtt.max];
    checked++;
    ssMax = Math.max(ssMax, s.rtt);
    tcTopMax = Math.max(tcTopMax, max);
    if (s.rtt < min * 0.8 || s.rtt > max * 1.2) misses.push(`ss ${s.rtt}us outside tc-top's ${min}..${max}us (port ${s.port})`);
  }
  assert.deepEqual(misses, [], `${checked} samples checked`);
  assert.ok(checked >= 5, `only ${checked} ss samples fell inside intervals`);
  return { checked, ssMax, tcTopMax };
}

async function withTcTop<T>(bed: Bed, ns: string, ifname: string, extra: readonly string[], fn: (run: Running) => Promise<T>): Promise<T> {
  const run = startTcTop(ns, ['-i', ifname, '--json', '-d', '1', '--idle-timeout', '120', ...extra]);
  try {
    await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
    const result = await fn(run);
    assert.equal(await run.stop('SIGINT'), 0);
    return result;
  } finally {
    await run.stop('SIGKILL');
  }
}

describe('health on the real kernel', opts, () => {
  it("RTT: the socket's own smoothed RTT (ss -ti) lies within tc-top's min..max, for a bulk transfer and a request/response exchange, with and without a queue on the ACK path", () =>
    withBed(async (bed) => {
      const server = background(bed.nsB, 'iperf3', ['-s', '-B', '10.200.0.2', '-p', '5201']);
      const echo = background(bed.nsB, process.execPath, ['-e', `require('node:net').createServer((s) => s.on('data', (d) => s.write(d))).listen(5202, '10.200.0.2')`]);
      try {
        await sleep(500);
        await withTcTop(bed, bed.nsA, bed.ifA, [], async (run) => {
          // In the background: the sampler of ss runs meanwhile.
          const bulk = () => background(bed.nsA, 'iperf3', ['-c', '10.200.0.2', '-p', '5201', '-t', '4', '-b', '200M']).exited();
          const rr = async () => {
            const c = background(bed.nsA, process.execPath, ['-e', `
              const s = require('node:net').connect(5202, '10.200.0.2');
              s.on('connect', () => { const t = setInterval(() => s.write(Buffer.alloc(200)), 20); setTimeout(() => { clearInterval(t); s.end(); }, 4000); });
              s.on('data', () => {}); s.on('close', () => process.exit(0));`]);
            await c.exited();
          };
          const plainBulk = await checkRtt(bed, run, bulk, 5201);
          await checkRtt(bed, run, rr, 5202);
          // A slow TBF on B's egress queues the ACKs of the bulk transfer and the echoes.
          bed.exec(bed.nsB, 'tc', ['qdisc', 'add', 'dev', bed.ifB, 'root', 'tbf', 'rate', '100kbit', 'burst', '1600', 'latency', '300ms']);
          const queuedBulk = await checkRtt(bed, run, bulk, 5201);
          await checkRtt(bed, run, rr, 5202);
          assert.ok(queuedBulk.ssMax > plainBulk.ssMax * 2, `the queue moved ss's RTT: ${plainBulk.ssMax} -> ${queuedBulk.ssMax} us`);
          assert.ok(queuedBulk.tcTopMax > plainBulk.tcTopMax * 2, `and tc-top's alike: ${plainBulk.tcTopMax} -> ${queuedBulk.tcTopMax} us`);
        });
      } finally {
        await server.stop();
        await echo.stop();
      }
    }));

  it("retransmits: with 5% of the segments dropped at random, tc-top's count for the flow is iperf3's within 5%", () =>
    withBed(async (bed) => {
      bed.exec(bed.nsB, 'nft', ['-f', '-'], {
        input: 'table inet tct {\n chain input {\n  type filter hook input priority 0;\n  tcp dport 5201 meta length > 200 numgen random mod 20 == 0 counter drop\n }\n}\n',
      });
      const server = background(bed.nsB, 'iperf3', ['-s', '-B', '10.200.0.2', '-p', '5201', '-1']);
      try {
        await sleep(500);
        await withTcTop(bed, bed.nsA, bed.ifA, [], async (run) => {
          const report = JSON.parse(bed.exec(bed.nsA, 'iperf3', ['-c', '10.200.0.2', '-p', '5201', '-t', '3', '-b', '100M', '-J'])) as {
            start: { connected: { local_port: number }[] };
            end: { sum_sent: { retransmits: number } };
          };
          const port = report.start.connected[0]!.local_port;
          const want = report.end.sum_sent.retransmits;
          assert.ok(want > 20, `iperf3 retransmitted ${want} segments`);
          const retrans = () => find(last(run), (f) => f.proto === 'tcp' && f.dir === 'egress' && f.sport === port)?.retrans ?? -1;
          await run.waitFor(() => retrans() >= want * 0.95, 5000, `tc-top's retransmits to reach iperf3's ${want} (at ${retrans()})`);
          await sleep(1200);
          const got = retrans();
          assert.ok(Math.abs(got - want) <= want * 0.05, `tc-top ${got} against iperf3 ${want}`);
          const back = find(last(run), (f) => f.proto === 'tcp' && f.dir === 'ingress' && f.dport === port);
          assert.equal(back?.retrans, got, 'both directions of the flow carry the socket\'s count');
        });
      } finally {
        await server.stop();
      }
    }));

  it('drops: an nft drop equals the rule counter (NETFILTER_DROP), a closed port is NO_SOCKET, a full buffer SOCKET_RCVBUFF; another namespace is not counted', () =>
    withBed((other) =>
      withBed(async (bed) => {
        const rules = 'table inet tct {\n chain input {\n  type filter hook input priority 0;\n  udp dport 7777 counter drop\n }\n}\n';
        for (const b of [bed, other]) b.exec(b.nsB, 'nft', ['-f', '-'], { input: rules });
        // A receiver that never reads, with a small buffer, in B of each bed.
        const sinks = [bed, other].map((b) =>
          background(b.nsB, 'python3', ['-c', `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,2048)\ns.bind(('10.200.0.2',7878))\nprint('ready',flush=True)\ntime.sleep(60)`]),
        );
        try {
          await sleep(500);
          await withTcTop(bed, bed.nsB, bed.ifB, [], async (run) => {
            const send = (b: Bed) =>
              b.exec(b.nsA, 'python3', ['-c', `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('10.200.0.1',40000))\nfor p,n in ((7777,37),(9999,11),(7878,300)):\n  for i in range(n): s.sendto(b'x'*1000,('10.200.0.2',p))`]);
            send(other);
            send(bed);
            send(other);
            await sleep(2500);
            const flowTo = (port: number) => find(last(run), (f) => f.proto === 'udp' && f.dir === 'ingress' && f.dport === port);
            const counter = Number(/counter packets (\d+)/.exec(bed.exec(bed.nsB, 'nft', ['list', 'ruleset']))![1]);
            assert.equal(counter, 37);
            assert.deepEqual(flowTo(7777)?.drops, { NETFILTER_DROP: counter });
            assert.ok((flowTo(9999)?.drops?.NO_SOCKET ?? 0) === 11, `NO_SOCKET: ${JSON.stringify(flowTo(9999)?.drops)}`);
            const rcvbuf = Number(/UdpRcvbufErrors\s+(\d+)/.exec(bed.exec(bed.nsB, 'nstat', ['-az', 'UdpRcvbufErrors']))?.[1] ?? 0);
            assert.ok(rcvbuf > 0, 'the receiver that never reads dropped some');
            assert.deepEqual(flowTo(7878)?.drops, { SOCKET_RCVBUFF: rcvbuf });
            assert.equal(flowTo(7777)?.packets, 37, "the other namespace's packets are not this one's either");
          });
        } finally {
          for (const s of sinks) await s.stop();
        }
      }),
    ));

  it('IPv6: the RTT of a socket and a drop at a closed port, keyed as the counters key the flows', () =>
    withBed(
      async (bed) => {
        const server = background(bed.nsA, 'iperf3', ['-s', '-1', '-B', 'fd00:200::1', '-p', '5201']);
        try {
          await sleep(500);
          await withTcTop(bed, bed.nsB, bed.ifB, [], async (run) => {
            bed.exec(bed.nsB, 'iperf3', ['-c', 'fd00:200::1', '-p', '5201', '-t', '2', '-b', '50M']);
            bed.exec(bed.nsA, 'python3', ['-c', "import socket\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\nfor i in range(4): s.sendto(b'x',('fd00:200::2',9999))"]);
            await sleep(1500);
            const tcp = lines(run)
              .flatMap((l) => l.flows)
              .filter((f) => f.proto === 'tcp' && f.dir === 'egress' && f.src === 'fd00:200::2' && f.dport === 5201 && f.rtt_us?.max);
            assert.ok(tcp.length > 0, 'the data socket has an RTT in some interval');
            const udp = find(last(run), (f) => f.proto === 'udp' && f.dport === 9999 && f.dir === 'ingress');
            assert.deepEqual(udp?.drops, { NO_SOCKET: 4 });
          });
        } finally {
          await server.stop();
        }
      },
      { quiet: false },
    ));

  it("expiry forgets a flow's drops: the same 5-tuple back after its flow expired counts from zero", () =>
    withBed(async (bed) => {
      const run = startTcTop(bed.nsB, ['-i', bed.ifB, '--json', '-d', '0.5', '--idle-timeout', '1.5']);
      try {
        await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
        const send = (n: number) =>
          bed.exec(bed.nsA, 'python3', ['-c', `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('10.200.0.1',40001))\nfor i in range(${n}): s.sendto(b'x',('10.200.0.2',9999))`]);
        const drops = () => find(last(run), (f) => f.proto === 'udp' && f.dport === 9999)?.drops?.NO_SOCKET;
        send(7);
        await run.waitFor(() => drops() === 7, 5000, 'the first 7 drops');
        await run.waitFor(() => drops() === undefined, 10_000, 'the flow to expire');
        const expired = lines(run).flatMap((l) => (l as Line & { expired?: Flow[] }).expired ?? []);
        assert.ok(expired.some((f) => f.dport === 9999), 'it expired');
        send(3);
        await run.waitFor(() => drops() !== undefined, 5000, 'the flow back');
        await sleep(1100);
        assert.equal(drops(), 3, 'its drop entries went with it');
        assert.equal(await run.stop('SIGINT'), 0);
      } finally {
        await run.stop('SIGKILL');
      }
    }));

  it("a kernel that gives no BTF: one notice, the counters run, and the health members are null ('-' in the TUI)", () =>
    withBed(async (bed) => {
      // /sys/kernel/btf/vmlinux hidden by a bind mount in a mount namespace of tc-top's own.
      const cmd = `mount --bind /dev/null /sys/kernel/btf/vmlinux && exec ${process.execPath} ${BIN} -i ${bed.ifB} --json -d 0.5 -n 10`;
      const child = spawn('ip', ['netns', 'exec', bed.nsB, 'unshare', '-m', 'sh', '-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      try {
        // Sent once both hooks are attached (a slow machine, or an emulated one, takes seconds to start).
        for (const end = Date.now() + 60_000; (err.match(/attached tc/g) ?? []).length < 2; await sleep(50)) {
          if (Date.now() > end || child.exitCode !== null) throw new Error(`tc-top did not attach: ${err}`);
        }
        bed.exec(bed.nsA, 'python3', ['-c', "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b'x',('10.200.0.2',9999))"]);
        assert.equal(await code, 0, err);
        assert.equal(err.split('\n').filter((l) => /RTT|retransmits|drops/.test(l)).length, 1, `one notice:\n${err}`);
        assert.match(err, /no RTT, retransmits or drops: the kernel's BTF could not be read/);
        const flow = (JSON.parse(out.trim().split('\n').at(-1)!) as Line).flows.find((f) => f.dport === 9999);
        assert.ok(flow, 'the counters run');
        assert.deepEqual([flow.rtt_us, flow.retrans, flow.drops], [null, null, null]);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }));

  it('--no-tcp-stats loads no program beyond the counters (bpftool prog show)', () =>
    withBed(async (bed) => {
      // The programs tc-top holds (its fds' prog_id, as leftovers.ts finds them), named by bpftool.
      const names = (pid: number) => {
        const pids = new Set([pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number)]);
        const ids = new Set([...heldPrograms()].filter(([, p]) => pids.has(p)).map(([id]) => id));
        return (JSON.parse(sh('bpftool', ['prog', 'show', '-j'])) as { id: number; name?: string }[])
          .filter((p) => ids.has(p.id))
          .map((p) => p.name ?? '')
          .sort();
      };
      const seen: Record<string, string[]> = {};
      for (const [label, extra] of [['default', []], ['--no-tcp-stats', ['--no-tcp-stats']]] as const) {
        await withTcTop(bed, bed.nsA, bed.ifA, [...extra, '--no-drop-privileges'], async (run) => {
          seen[label] = names(run.child.pid!);
        });
      }
      // The counter object loads its XDP program too, attached only with --hook xdp|both.
      assert.deepEqual(seen['--no-tcp-stats'], ['tctop_tc_eg', 'tctop_tc_in', 'tctop_xdp']);
      const retrans = seen.default!.filter((n) => n.startsWith('tctop_retrans'));
      assert.equal(retrans.length, 1, 'one variant of the retransmit program, the one the kernel takes');
      assert.deepEqual(seen.default, ['tctop_drop', retrans[0]!, 'tctop_rtt', 'tctop_tc_eg', 'tctop_tc_in', 'tctop_xdp'].sort());
    }));
});
