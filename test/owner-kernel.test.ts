/**
 * Who is talking, on the real kernel: python senders and receivers with known pids in the watched
 * namespace, a test-made cgroup, a connection opened before tc-top starts, a process that exits
 * right after it sends, ping, and injected frames that no process owns. tc-top runs in the
 * namespace through nsenter (ip netns exec would hide the cgroup v2 mount its programs attach to).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { cgroup2Mount } from '../src/collectors/owners.js';
import { frame } from './helpers/packets.js';
import { inject, kernelTest, sh, withBed, type Bed } from './helpers/netns.js';
import { startTcTop } from './helpers/run.js';

type F = { proto: string; src: string; sport: number; dst: string; dport: number; dir: string; packets: number; pid: number | null; comm: string | null; uid: number | null; cgroup: string | null };

/** A python program in a namespace (network only: the cgroup mount stays visible), printing its pid first. */
function python(ns: string, code: string): { child: ChildProcess; pid: Promise<number> } {
  const child = spawn('nsenter', [`--net=/run/netns/${ns}`, 'python3', '-u', '-c', `import os, socket, sys, time\nprint(os.getpid(), flush=True)\n${code}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim().split('\n')[0])));
    child.once('exit', (c) => reject(new Error(`python exited (${c}) before printing its pid`)));
  });
  return { child, pid };
}

const UDP_SINK = (port: number) => `s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', ${port}))\nwhile True: s.recv(2048)`;
const UDP_SEND = (dst: string, port: number) => `s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nwhile True:\n  s.sendto(b'x' * 100, ('${dst}', ${port})); time.sleep(0.05)`;
const TCP_SERVER = (addr: string, port: number) => `
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('${addr}', ${port})); l.listen()
import threading
def serve(c):
  while c.recv(4096): c.send(b'ok')
while True:
  c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()`;
const TCP_CLIENT = (addr: string, port: number, waitS = 0) => `
c = socket.create_connection(('${addr}', ${port}))
time.sleep(${waitS})
while True:
  c.send(b'y' * 100); c.recv(100); time.sleep(0.05)`;

describe('process owners on the real kernel', kernelTest(), () => {
  it('names the sender and the receiver of each flow, keeps them after exit, and none for frames no process sent', () =>
    withBed(async (bed: Bed) => {
      const mount = cgroup2Mount(readFileSync('/proc/self/mounts', 'utf8'));
      assert.ok(mount, 'a cgroup2 mount');
      const cg = `${mount}/tct-${process.pid}-own`;
      const children: ChildProcess[] = [];
      const run = (ns: string, code: string) => {
        const p = python(ns, code);
        children.push(p.child);
        return p.pid;
      };
      let tcTop: ReturnType<typeof startTcTop> | undefined;
      try {
        mkdirSync(cg);
        // Before tc-top: a server in B and an idle connection to it from A.
        await run(bed.nsB, TCP_SERVER('10.200.0.2', 7000));
        await new Promise((r) => setTimeout(r, 300));
        const early = await run(bed.nsA, TCP_CLIENT('10.200.0.2', 7000, 4));
        // And an idle server in A (its connections come after tc-top starts), and a UDP receiver in A.
        const idleServer = await run(bed.nsA, TCP_SERVER('0.0.0.0', 7002));
        const earlyReceiver = await run(bed.nsA, UDP_SINK(5001));
        await new Promise((r) => setTimeout(r, 300));

        tcTop = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.3', '--idle-timeout', '120', '--no-drop-privileges'], 'nsenter');
        const t = tcTop;
        await t.waitFor(() => t.lines.length > 0, 20_000, 'the first JSON line');
        const flows = (): F[] => (JSON.parse(t.lines[t.lines.length - 1]!) as { flows: F[] }).flows;

        // UDP: a receiver on any address and a sender in A, their peers in B.
        await run(bed.nsB, UDP_SINK(6000));
        const receiver = await run(bed.nsA, UDP_SINK(5000));
        const sender = await run(bed.nsA, UDP_SEND('10.200.0.2', 6000));
        await run(bed.nsB, UDP_SEND('10.200.0.1', 5000));
        // TCP: a client in A, and a server in A with its client in B.
        const client = await run(bed.nsA, TCP_CLIENT('10.200.0.2', 7000));
        const server = await run(bed.nsA, TCP_SERVER('10.200.0.1', 7001));
        await new Promise((r) => setTimeout(r, 300));
        await run(bed.nsB, TCP_CLIENT('10.200.0.1', 7001));
        await run(bed.nsB, TCP_CLIENT('10.200.0.1', 7002));
        await run(bed.nsB, UDP_SEND('10.200.0.1', 5001));
        // A process in a test-made cgroup (it moves itself there before its socket exists).
        await run(bed.nsA, `open('${cg}/cgroup.procs', 'w').write(str(os.getpid()))\n${UDP_SEND('10.200.0.2', 6002)}`);
        // One that sends once and exits at once.
        const brief = spawnSync('nsenter', [`--net=/run/netns/${bed.nsA}`, 'python3', '-c', "import os, socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'z', ('10.200.0.2', 6003)); print(os.getpid())"], { encoding: 'utf8' });
        const briefPid = Number(brief.stdout.trim());
        // ping, and frames injected into A that no socket sent or takes.
        const ping = spawn('nsenter', [`--net=/run/netns/${bed.nsA}`, 'ping', '-c', '20', '-i', '0.2', '10.200.0.2'], { stdio: 'ignore' });
        children.push(ping);
        const foreign = (dst: string, dport: number) => frame({ dstMac: bed.macA, srcMac: bed.macB, ip: { v: 4, src: '10.200.0.77', dst }, l4: { kind: 'udp', sport: 4444, dport }, payload: 20 });
        inject(bed, bed.nsB, bed.ifB, [foreign('10.200.0.1', 9999), foreign('10.9.9.9', 5000)], 3);

        const find = (pred: (f: F) => boolean) => flows().find(pred);
        const udp = (dir: string, port: number) => find((f) => f.proto === 'udp' && f.dir === dir && (dir === 'egress' ? f.dport : f.dport) === port);
        const tcp = (dir: string, local: number) => find((f) => f.proto === 'tcp' && f.dir === dir && (dir === 'egress' ? f.sport : f.dport) === local);
        const tcpTo = (dir: string, remote: number) => find((f) => f.proto === 'tcp' && f.dir === dir && (dir === 'egress' ? f.dport : f.sport) === remote && (dir === 'egress' ? f.src : f.dst) === '10.200.0.1');
        const icmp = (dir: string, type: number) => find((f) => f.proto === 'icmp' && f.dir === dir && f.dport >> 8 === type);
        const want = {
          'udp receiver (ingress)': () => udp('ingress', 5000)?.pid === receiver,
          'udp sender (egress)': () => udp('egress', 6000)?.pid === sender,
          'tcp server (ingress)': () => tcp('ingress', 7001)?.pid === server,
          'tcp server (egress)': () => tcp('egress', 7001)?.pid === server,
          'cgroup': () => udp('egress', 6002)?.cgroup === `/tct-${process.pid}-own`,
          'brief': () => udp('egress', 6003)?.pid === briefPid,
          'ping out': () => icmp('egress', 8)?.comm === 'ping',
          'ping in': () => icmp('ingress', 0)?.comm === 'ping',
          'early': () => flows().some((f) => f.proto === 'tcp' && f.pid === early),
          'idle server (ingress)': () => tcp('ingress', 7002)?.pid === idleServer,
          'idle server (egress)': () => tcp('egress', 7002)?.pid === idleServer,
          'early udp receiver': () => udp('ingress', 5001)?.pid === earlyReceiver,
        };
        await t.waitFor(() => Object.values(want).every((ok) => ok()), 15_000, `owners: ${JSON.stringify(Object.fromEntries(Object.entries(want).map(([k, ok]) => [k, ok()])))}`).catch((err: Error) => {
          throw new Error(`${err.message}\n${JSON.stringify(flows().map((f) => [f.proto, f.dir, `${f.src}:${f.sport}`, `${f.dst}:${f.dport}`, f.pid, f.comm, f.cgroup]))}`);
        });

        // Both directions of the client's connections are the client's, the one opened before tc-top too.
        assert.equal(tcpTo('egress', 7000)?.pid !== undefined, true);
        for (const f of flows().filter((x) => x.proto === 'tcp' && ((x.dir === 'egress' && x.dport === 7000) || (x.dir === 'ingress' && x.sport === 7000)))) {
          assert.ok(f.pid === client || f.pid === early, `tcp flow ${f.sport}->${f.dport} ${f.dir} owned by ${f.pid}, not the client ${client} or ${early}`);
        }
        const earlyFlows = flows().filter((f) => f.pid === early);
        assert.deepEqual(new Set(earlyFlows.map((f) => f.dir)), new Set(['ingress', 'egress']), 'the connection from before tc-top, both ways');
        // The process that exited keeps its comm.
        assert.equal(udp('egress', 6003)?.comm, 'python3');
        assert.equal(udp('egress', 6000)?.uid, 0);
        // Injected: to a port no one listens on, and to an address that is not A's on the port of A's wildcard receiver.
        await t.waitFor(() => !!find((f) => f.src === '10.200.0.77' && f.dport === 5000), 5000, 'the injected flows');
        for (const f of flows().filter((x) => x.src === '10.200.0.77' || x.dst === '10.200.0.77')) {
          assert.equal(f.pid, null, `injected ${f.proto} ${f.src}:${f.sport} -> ${f.dst}:${f.dport} has no owner`);
          assert.equal(f.cgroup, null);
        }

        // SIGKILL: no program stays on any cgroup.
        await t.stop('SIGKILL');
        tcTop = undefined;
        let tree = '';
        for (let i = 0; i < 50; i++) {
          tree = sh('bpftool', ['cgroup', 'tree', mount]);
          if (!tree.includes('tctop_')) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.doesNotMatch(tree, /tctop_/, 'bpftool cgroup tree after SIGKILL');
      } finally {
        await tcTop?.stop('SIGKILL');
        for (const c of children) c.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 200));
        if (existsSync(cg)) {
          // Its processes back to the root, then the cgroup goes.
          for (const pid of readFileSync(`${cg}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)) {
            try {
              writeFileSync(`${mount}/cgroup.procs`, pid);
            } catch {
              /* exited meanwhile */
            }
          }
          rmdirSync(cg);
        }
      }
    }));
});
