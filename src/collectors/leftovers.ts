/**
 * tc-top programs left on an interface by a run that was killed on the legacy (netlink) path: BPF
 * links vanish with their process, netlink attachments do not. A tc-top program counts as left
 * over when no live process holds a file descriptor to it (a running tc-top holds its programs).
 * Only programs named with tc-top's prefix are ever touched; of qdiscs, only a clsact that tc-top
 * recorded as its own (clsact-record.ts), once no filter is left on it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { TcAttachPoint, XdpFlags, closeFd, progFdById, progName, tcDetach, tcHookDestroy, tcQuery, xdpDetach, xdpQuery } from '../ffi/libbpf.js';
import { PROGRAM_PREFIX } from '../ffi/layout.js';
import { attachedPrograms, clsactState } from './attached.js';
import { TC_HANDLE, TC_PRIORITIES } from './tc-band.js';
import type { Iface } from './interfaces.js';
import { type ClsactRecord, forgetClsact, readClsactRecord } from './clsact-record.js';

export interface Leftover {
  readonly ifname: string;
  readonly ifindex: number;
  readonly hook: 'xdp' | 'tc ingress' | 'tc egress';
  readonly progId: number;
  readonly name: string;
  /** Legacy tc filter priority (at TC_HANDLE). */
  readonly priority?: number;
}

/** Program ids held open by some process, with one pid holding each (from /proc/PID/fdinfo). */
export function heldPrograms(): Map<number, number> {
  const held = new Map<number, number>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return held;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue; /* gone, or not ours to read */
    }
    for (const fd of fds) {
      try {
        const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
        if (m) held.set(Number(m[1]), Number(pid));
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return held;
}

export function findLeftovers(iface: Iface, held = heldPrograms()): Leftover[] {
  const out: Leftover[] = [];
  const ours = (id: number, name: string) => name.startsWith(PROGRAM_PREFIX) && !held.has(id);
  for (const p of attachedPrograms(iface.index)) {
    if (p.hook === 'xdp' && ours(p.id, p.name)) out.push({ ifname: iface.name, ifindex: iface.index, hook: 'xdp', progId: p.id, name: p.name });
  }
  for (const [hook, point] of [['tc ingress', TcAttachPoint.INGRESS], ['tc egress', TcAttachPoint.EGRESS]] as const) {
    for (const priority of TC_PRIORITIES) {
      const id = tcQuery(iface.index, point, TC_HANDLE, priority);
      const name = id ? progName(id) : undefined;
      if (id && name && ours(id, name)) out.push({ ifname: iface.name, ifindex: iface.index, hook, progId: id, name, priority });
    }
  }
  return out;
}

export function describeLeftover(l: Leftover): string {
  return l.hook === 'xdp' ? `xdp program ${l.name} (id ${l.progId})` : `${l.hook} filter ${l.name} (id ${l.progId}, pref ${l.priority})`;
}

/** Remove one leftover; only if it is still the same program at the same place. */
export function removeLeftover(l: Leftover): void {
  if (l.hook === 'xdp') {
    const q = xdpQuery(l.ifindex);
    const mode = q.drvProgId === l.progId ? XdpFlags.DRV_MODE : q.skbProgId === l.progId ? XdpFlags.SKB_MODE : q.hwProgId === l.progId ? XdpFlags.HW_MODE : 0;
    const fd = progFdById(l.progId);
    try {
      xdpDetach(l.ifindex, fd, mode);
    } finally {
      closeFd(fd);
    }
    return;
  }
  const point = l.hook === 'tc ingress' ? TcAttachPoint.INGRESS : TcAttachPoint.EGRESS;
  if (tcQuery(l.ifindex, point, TC_HANDLE, l.priority!) === l.progId) tcDetach(l.ifindex, point, TC_HANDLE, l.priority!);
}

/**
 * The clsact qdisc a tc-top run created (its record says so) that holds nothing but `left`, the
 * leftover filters: empty once they are removed. A running legacy tc-top's filters keep it in use.
 */
export function findLeftoverClsact(iface: Iface, left: readonly Leftover[]): ClsactRecord | undefined {
  const record = readClsactRecord(iface);
  const st = record && clsactState(iface.name);
  if (!st) return undefined; /* no record, no qdisc, or no \`tc\` to tell */
  const only = (prefs: readonly number[], hook: Leftover['hook']) => prefs.every((p) => left.some((l) => l.hook === hook && l.priority === p));
  return only(st.ingress, 'tc ingress') && only(st.egress, 'tc egress') ? record : undefined;
}

export type ClsactOutcome = 'removed' | 'in use' | 'none';

/**
 * Remove the interface's clsact if tc-top recorded it as its own and no filter is on it; drop a
 * record whose qdisc is already gone. A clsact without a record is not tc-top's and stays.
 */
export function removeLeftoverClsact(iface: Iface): ClsactOutcome {
  if (!readClsactRecord(iface)) return 'none';
  const st = clsactState(iface.name);
  if (st === undefined) throw new Error('cannot list its filters: iproute2 `tc` is missing');
  if (st === null) {
    forgetClsact(iface); /* removed by someone else since */
    return 'none';
  }
  if (st.ingress.length + st.egress.length > 0) return 'in use';
  tcHookDestroy(iface.index);
  forgetClsact(iface);
  return 'removed';
}
