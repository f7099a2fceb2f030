/**
 * Test beds on the real kernel: two network namespaces joined by a veth pair, named tct-<pid>-...
 * so that a bed is recognisable and a later run can sweep one left by a killed test. Everything is
 * removed in finally blocks and again at process exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { RECORD_DIR, sweepRecords } from '../../src/collectors/clsact-record.js';

export const IS_ROOT = process.getuid?.() === 0;
export const IN_CI = process.env.CI === 'true';

/**
 * Options for node:test that skip a kernel test when not root, with the reason; under CI=true a
 * missing privilege is a failure instead (the test runs and fails on its first privileged call).
 */
export function kernelTest(): { skip?: string } {
  if (IS_ROOT || IN_CI) return {};
  return { skip: 'needs root (BPF and network namespaces): run `sudo npm test`' };
}

export function sh(cmd: string, args: readonly string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: 'utf8' });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

const created = new Set<string>();

function deleteNs(ns: string): void {
  sh('ip', ['netns', 'del', ns], { allowFail: true });
  created.delete(ns);
}

process.on('exit', () => {
  for (const ns of [...created]) deleteNs(ns);
});

/**
 * Remove tc-top's clsact records (under /run) that name these interfaces, left when a bed goes
 * with a run killed in it, and the records runs released (emptied) once they had dropped root.
 */
export function forgetRecords(ifnames: readonly string[]): void {
  let names: string[] = [];
  try {
    names = readdirSync(RECORD_DIR);
  } catch {
    /* no records at all */
  }
  for (const name of names) {
    try {
      const r = JSON.parse(readFileSync(`${RECORD_DIR}/${name}`, 'utf8')) as { ifname?: string };
      if (r.ifname && ifnames.includes(r.ifname)) unlinkSync(`${RECORD_DIR}/${name}`);
    } catch {
      /* empty (swept below), gone, or not a record */
    }
  }
  sweepRecords();
}

/** Remove beds left by test processes that no longer exist (a test killed mid-way). */
export function sweepStaleBeds(): void {
  const list = sh('ip', ['netns', 'list'], { allowFail: true });
  for (const line of list.split('\n')) {
    const m = /^(tct-(\d+)-\S+)/.exec(line);
    if (m && !existsSync(`/proc/${m[2]}`)) deleteNs(m[1]!);
  }
}

export interface Bed {
  /** Namespace where tc-top runs, and its veth end. */
  readonly nsA: string;
  readonly ifA: string;
  readonly macA: string;
  /** The peer namespace and its veth end. */
  readonly nsB: string;
  readonly ifB: string;
  readonly macB: string;
  /** Run a command inside a namespace. */
  exec(ns: string, cmd: string, args: readonly string[], opts?: { input?: string; allowFail?: boolean }): string;
}

let counter = 0;

export interface BedOptions {
  /** Disable IPv6 on the veth ends so that the hosts' own chatter (RS, MLD, DAD) stays out. */
  readonly quiet?: boolean;
  readonly mtu?: number;
  readonly addresses?: boolean;
}

/** Create a bed, run fn, and remove the bed whatever happens. */
export async function withBed<T>(fn: (bed: Bed) => Promise<T> | T, opts: BedOptions = {}): Promise<T> {
  sweepStaleBeds();
  const id = `${process.pid}-${++counter}`;
  const nsA = `tct-${id}-a`;
  const nsB = `tct-${id}-b`;
  // Interface names: at most 15 bytes, unique per bed.
  const tag = `${process.pid % 100000}${counter}`;
  const ifA = `tcta${tag}`.slice(0, 15);
  const ifB = `tctb${tag}`.slice(0, 15);
  // ip and tc switch namespaces themselves (-n): one process instead of two, which under emulation
  // (test:kernels) is a quarter of a second each time.
  const exec: Bed['exec'] = (ns, cmd, args, o) =>
    cmd === 'ip' || cmd === 'tc' ? sh(cmd, ['-n', ns, ...args], o) : sh('ip', ['netns', 'exec', ns, cmd, ...args], o);
  try {
    for (const ns of [nsA, nsB]) {
      sh('ip', ['netns', 'add', ns]);
      created.add(ns);
    }
    sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    for (const [ns, ifc] of [[nsA, ifA], [nsB, ifB]] as const) {
      if (opts.quiet !== false) {
        exec(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${ifc}.disable_ipv6=1`]);
      }
      if (opts.mtu) exec(ns, 'ip', ['link', 'set', ifc, 'mtu', String(opts.mtu)]);
      exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
      exec(ns, 'ip', ['link', 'set', ifc, 'up']);
    }
    if (opts.addresses !== false) {
      exec(nsA, 'ip', ['addr', 'add', '10.200.0.1/24', 'dev', ifA]);
      exec(nsB, 'ip', ['addr', 'add', '10.200.0.2/24', 'dev', ifB]);
      if (opts.quiet === false) {
        exec(nsA, 'ip', ['addr', 'add', 'fd00:200::1/64', 'dev', ifA, 'nodad']);
        exec(nsB, 'ip', ['addr', 'add', 'fd00:200::2/64', 'dev', ifB, 'nodad']);
      }
    }
    const mac = (ns: string, ifc: string) => /link\/ether ([0-9a-f:]+)/.exec(exec(ns, 'ip', ['link', 'show', ifc]))![1]!;
    return await fn({ nsA, ifA, macA: mac(nsA, ifA), nsB, ifB, macB: mac(nsB, ifB), exec });
  } finally {
    deleteNs(nsA);
    deleteNs(nsB);
    forgetRecords([ifA, ifB]);
  }
}

const INJECT = new URL('../tools/inject.py', import.meta.url).pathname;

/** Send raw frames out of an interface inside a namespace, each `repeat` times. */
export function inject(bed: Bed, ns: string, ifc: string, frames: readonly Buffer[], repeat = 1): number {
  const out = bed.exec(ns, 'python3', [INJECT, ifc, String(repeat)], { input: frames.map((f) => f.toString('hex')).join('\n') + '\n' });
  return Number(out.trim());
}

const ATTACHED = new URL('../tools/attached.mjs', import.meta.url).pathname;

export interface HookState {
  /** Programs on the XDP and tcx hooks, as "hook name" (ids left out so states compare). */
  readonly programs: readonly string[];
  readonly tcIngress: string;
  readonly tcEgress: string;
  readonly qdisc: string;
}

/** What is attached to an interface: XDP and tcx programs by name, legacy tc filters, qdiscs. */
export function hookState(bed: Bed, ns: string, ifc: string): HookState {
  const attached = JSON.parse(bed.exec(ns, process.execPath, [ATTACHED, ifc])) as { hook: string; name: string }[];
  return {
    programs: attached.map((p) => `${p.hook} ${p.name}`),
    tcIngress: bed.exec(ns, 'tc', ['filter', 'show', 'dev', ifc, 'ingress'], { allowFail: true }).trim(),
    tcEgress: bed.exec(ns, 'tc', ['filter', 'show', 'dev', ifc, 'egress'], { allowFail: true }).trim(),
    qdisc: bed.exec(ns, 'tc', ['qdisc', 'show', 'dev', ifc]).trim(),
  };
}

/**
 * UDP streams from B (10.200.0.2) to A (10.200.0.1) for at most 60 s, `perTick` 1000-byte
 * datagrams every 100 ms per port; with sinks on A so that A answers with no ICMP.
 */
export function udpStreams(bed: Bed, streams: readonly (readonly [port: number, perTick: number])[]): { stop(): void } {
  const list = JSON.stringify(streams);
  const sink = spawn('ip', ['netns', 'exec', bed.nsA, process.execPath, '-e', `
    const dgram = require('node:dgram');
    for (const [port] of ${list}) dgram.createSocket('udp4').bind(port, '10.200.0.1').on('message', () => {});
    setTimeout(() => process.exit(0), 60000);`], { stdio: 'ignore' });
  const sender = spawn('ip', ['netns', 'exec', bed.nsB, process.execPath, '-e', `
    const s = require('node:dgram').createSocket('udp4');
    const end = Date.now() + 60000;
    const t = setInterval(() => {
      if (Date.now() > end) { clearInterval(t); s.close(); return; }
      for (const [port, n] of ${list}) for (let i = 0; i < n; i++) s.send(Buffer.alloc(1000), port, '10.200.0.1');
    }, 100);`], { stdio: 'ignore' });
  return {
    stop() {
      sender.kill('SIGKILL');
      sink.kill('SIGKILL');
    },
  };
}

/** Three namespaces in a line: a client, a router that forwards, a server. */
export interface Routed {
  /** The client (10.201.1.1) and its veth end, towards the router. */
  readonly nsC: string;
  readonly ifC: string;
  /** The router, its end towards the client (10.201.1.2) and towards the server (10.201.2.1). */
  readonly nsR: string;
  readonly ifRC: string;
  readonly ifRS: string;
  /** The server (10.201.2.2) and its veth end. */
  readonly nsS: string;
  readonly ifS: string;
  exec: Bed['exec'];
}

/** Create client, router and server namespaces, run fn, and remove them whatever happens. */
export async function withRouted<T>(fn: (net: Routed) => Promise<T> | T): Promise<T> {
  sweepStaleBeds();
  const id = `${process.pid}-${++counter}`;
  const [nsC, nsR, nsS] = ['c', 'r', 's'].map((x) => `tct-${id}-${x}`) as [string, string, string];
  const tag = `${process.pid % 100000}${counter}`;
  const [ifC, ifRC, ifRS, ifS] = ['c', 'rc', 'rs', 's'].map((x) => `tct${x}${tag}`.slice(0, 15)) as [string, string, string, string];
  const exec: Bed['exec'] = (ns, cmd, args, o) =>
    cmd === 'ip' || cmd === 'tc' ? sh(cmd, ['-n', ns, ...args], o) : sh('ip', ['netns', 'exec', ns, cmd, ...args], o);
  try {
    for (const ns of [nsC, nsR, nsS]) {
      sh('ip', ['netns', 'add', ns]);
      created.add(ns);
    }
    sh('ip', ['link', 'add', ifC, 'netns', nsC, 'type', 'veth', 'peer', 'name', ifRC, 'netns', nsR]);
    sh('ip', ['link', 'add', ifRS, 'netns', nsR, 'type', 'veth', 'peer', 'name', ifS, 'netns', nsS]);
    const ends: [string, string, string][] = [[nsC, ifC, '10.201.1.1/24'], [nsR, ifRC, '10.201.1.2/24'], [nsR, ifRS, '10.201.2.1/24'], [nsS, ifS, '10.201.2.2/24']];
    for (const [ns, ifc, addr] of ends) {
      exec(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${ifc}.disable_ipv6=1`]);
      exec(ns, 'ip', ['addr', 'add', addr, 'dev', ifc]);
      exec(ns, 'ip', ['link', 'set', ifc, 'up']);
    }
    for (const ns of [nsC, nsR, nsS]) exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
    exec(nsR, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    exec(nsC, 'ip', ['route', 'add', 'default', 'via', '10.201.1.2']);
    exec(nsS, 'ip', ['route', 'add', 'default', 'via', '10.201.2.1']);
    return await fn({ nsC, ifC, nsR, ifRC, ifRS, nsS, ifS, exec });
  } finally {
    for (const ns of [nsC, nsR, nsS]) deleteNs(ns);
    forgetRecords([ifC, ifRC, ifRS, ifS]);
  }
}
