/**
 * `tc-top --demo`: a test bed of its own (two network namespaces joined by a veth pair, named
 * tctop-demo-<pid>-*), traffic inside it, and tc-top watching one end. Nothing it sends leaves
 * those namespaces. Every way out removes the bed and the traffic; a start that finds the bed of a
 * demo that was killed removes that first.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6 } from './demo-addresses.js';

const PREFIX = 'tctop-demo-';
const TRAFFIC = fileURLToPath(new URL('./demo-traffic.js', import.meta.url));

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    /* already gone */
  }
}

/** Kill whatever runs inside a namespace, then delete it (which deletes its veth end too). */
function removeNamespace(ns: string): void {
  let pids: string[] = [];
  try {
    pids = ip('netns', 'pids', ns).split('\n').filter(Boolean);
  } catch {
    /* no such namespace */
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* exited meanwhile */
    }
  }
  tryIp('netns', 'del', ns);
}

/** Beds of demos whose process is gone: removed, with one line each for the user. */
export function sweepDemoBeds(): string[] {
  const removed: string[] = [];
  for (const line of ip('netns', 'list').split('\n')) {
    const m = new RegExp(`^(${PREFIX}(\\d+)-[ab])\\b`).exec(line);
    if (m && !existsSync(`/proc/${m[2]}`)) {
      removeNamespace(m[1]!);
      removed.push(`removed ${m[1]} left by a demo that was killed`);
    }
  }
  return removed;
}

export interface DemoBed {
  /** The namespace tc-top watches in, and its end of the veth. */
  readonly ns: string;
  readonly iface: string;
  /** Remove the traffic and the namespaces. Idempotent, synchronous (safe in an exit handler). */
  remove(): void;
}

export function createDemoBed(): DemoBed {
  const nsA = `${PREFIX}${process.pid}-a`;
  const nsB = `${PREFIX}${process.pid}-b`;
  const ifA = `tcdm${process.pid}a`.slice(0, 15);
  const ifB = `tcdm${process.pid}b`.slice(0, 15);
  const children: ChildProcess[] = [];
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const c of children) c.kill('SIGKILL');
    removeNamespace(nsA);
    removeNamespace(nsB);
  };
  try {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
    for (const [ns, ifc, v4, v6] of [[nsA, ifA, SERVER_V4, SERVER_V6], [nsB, ifB, CLIENT_V4, CLIENT_V6]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', ifc);
      ip('-n', ns, 'addr', 'add', `${v6}/64`, 'dev', ifc, 'nodad');
      ip('-n', ns, 'link', 'set', ifc, 'up');
    }
    for (const [ns, role] of [[nsA, 'server'], [nsB, 'client']] as const) {
      children.push(spawn('ip', ['netns', 'exec', ns, process.execPath, TRAFFIC, role], { stdio: 'ignore' }));
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { ns: nsA, iface: ifA, remove };
}
