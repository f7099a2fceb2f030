/**
 * Who is talking: the local process and cgroup behind each flow. The owner programs
 * (bpf/tc_top_owner.bpf.c) record sockets by their addresses and ports with the process that used
 * them; the collector reads them into an OwnerSample (a table of distinct owners and the socket
 * keys that name them), and this module joins a tick's flows to it by the socket's 5-tuple, seen
 * from the local side. The result is a column of owner ids (OwnerColumn), resolved only for the
 * rows a view asks for, and carried to the next tick for every flow that keeps its row: a flow is
 * resolved once, and a process that exits keeps its flows. Pure: no clock, no I/O.
 */
import type { FlowSet } from './flow-set.js';

/** A process as the kernel recorded it. Distinct owners are few; flows share these objects. */
export interface Owner {
  /** Thread group id. */
  readonly pid: number;
  readonly comm: string;
  readonly uid: number;
  /** The user's name where the system knows it. */
  readonly user: string | undefined;
  /** The cgroup v2 path, from the cgroup2 mount ('/system.slice/ssh.service'); undefined when unknown. */
  readonly cgroup: string | undefined;
  /** A short name of the container or unit (see containerName), or undefined. */
  readonly container: string | undefined;
  /** The command line, read once when first asked for (undefined once the process is gone). */
  readonly cmdline?: (() => string | undefined) | undefined;
}

/** What the collector read of the owner maps on one tick. */
export interface OwnerSample {
  /** Every owner met so far, by id (the table only grows: ids stay valid from tick to tick). */
  readonly table: readonly Owner[];
  /** Socket key (tupleKey) -> owner id. */
  readonly byTuple: ReadonlyMap<string, number>;
  /** addressSortKey of the addresses of the watched namespace: where a socket bound to any address may be. */
  readonly local: ReadonlySet<string>;
}

/** No owner: the flow is forwarded, the kernel's own, injected, or its socket unknown. */
export const NONE = -1;
const UNRESOLVED = -2;
/** A flow without an owner is looked up again while younger than this (its socket may publish after its first packet). */
export const RETRY_NS = 5e9;

/** A socket's key as the collector writes it and the join looks it up: addresses as addressSortKey gives them. */
export function tupleKey(proto: number, local: string, lport: number, remote: string, rport: number): string {
  return `${proto} ${local} ${lport} ${remote} ${rport}`;
}

export const ANY4 = '400000000';
export const ANY6 = `6${'0'.repeat(32)}`;

/**
 * The socket keys that may own row i, best first. A flow at egress leaves from its local end (its
 * source), at ingress it arrives at it (its destination).
 *  - TCP: the connection's own 4-tuple only (both ends are published when it connects or is
 *    accepted; an RST the kernel sends for a connection it does not have matches none).
 *  - UDP: the connected socket's 4-tuple, else a socket bound to the local address and port, else
 *    one bound to any address (IPv4 and dual-stack IPv6) on that port, the last only where the
 *    local address is this namespace's own (a forwarded datagram to the same port is not ours).
 *  - ICMP: an echo request out or an echo reply in, by the two addresses (ping and raw sockets);
 *    other ICMP is the kernel's own (errors, echo replies it answers itself).
 */
export function candidateKeys(flows: FlowSet, i: number, local: ReadonlySet<string>): string[] {
  const proto = flows.proto(i);
  const egress = flows.dir(i) === 'egress';
  const src = flows.addressSortKey(i, 'src');
  const dst = flows.addressSortKey(i, 'dst');
  const [here, there] = egress ? [src, dst] : [dst, src];
  const sport = flows.sport(i);
  const dport = flows.dport(i);
  const [lport, rport] = egress ? [sport, dport] : [dport, sport];
  switch (proto) {
    case 6:
      return [tupleKey(6, here, lport, there, rport)];
    case 17:
    case 136: {
      const family = flows.family(i);
      const any = family === 4 ? ANY4 : ANY6;
      const keys = [tupleKey(proto, here, lport, there, rport), tupleKey(proto, here, lport, any, 0)];
      if (local.has(here)) {
        keys.push(tupleKey(proto, any, lport, any, 0));
        if (family === 4) keys.push(tupleKey(proto, ANY6, lport, ANY6, 0));
      }
      return keys;
    }
    case 1:
    case 58: {
      const type = dport >> 8;
      const echo = proto === 1 ? (egress ? 8 : 0) : egress ? 128 : 129;
      return type === echo ? [tupleKey(proto, here, 0, there, 0)] : [];
    }
    default:
      return [];
  }
}

/** Row i's owner id in the sample, or NONE. */
export function lookupOwner(flows: FlowSet, i: number, sample: OwnerSample): number {
  for (const key of candidateKeys(flows, i, sample.local)) {
    const id = sample.byTuple.get(key);
    if (id !== undefined) return id;
  }
  return NONE;
}

/** The owner column of each snapshot the model has joined, so that the next tick can carry it. */
const columns = new WeakMap<object, OwnerColumn>();

/**
 * A tick's owners, one id per row of its flows: resolved on first ask and kept. Built from the
 * previous tick's column through the rows' match (old[i], the previous row of row i): a flow that
 * had an owner keeps it; one that had none keeps none once older than RETRY_NS.
 */
export class OwnerColumn {
  private readonly ids: Int32Array;

  constructor(
    readonly flows: FlowSet,
    readonly sample: OwnerSample,
    nowNs: number,
    prev?: OwnerColumn,
    old?: Int32Array,
  ) {
    const n = flows.length;
    this.ids = new Int32Array(n).fill(UNRESOLVED);
    if (prev && old) {
      const before = prev.ids;
      const settled = nowNs - RETRY_NS;
      const first = flows.firstSeenNs;
      for (let i = 0; i < n; i++) {
        const p = old[i] as number;
        if (p < 0) continue;
        const id = before[p] as number;
        if (id >= 0 || (id === NONE && (first[i] as number) < settled)) this.ids[i] = id;
      }
    }
  }

  /** The column of a snapshot (`key`), carried from the column of the one before. */
  static join(key: object, flows: FlowSet, sample: OwnerSample, nowNs: number, prevKey: object | undefined, old: Int32Array): OwnerColumn {
    const prev = prevKey ? columns.get(prevKey) : undefined;
    const column = new OwnerColumn(flows, sample, nowNs, prev, old);
    columns.set(key, column);
    return column;
  }

  get length(): number {
    return this.ids.length;
  }

  /** Row i's owner id, or NONE. */
  id(i: number): number {
    let id = this.ids[i] as number;
    if (id === UNRESOLVED) {
      id = lookupOwner(this.flows, i, this.sample);
      this.ids[i] = id;
    }
    return id;
  }

  /** Row i's owner, or null for none. */
  owner(i: number): Owner | null {
    const id = this.id(i);
    return id >= 0 ? (this.sample.table[id] ?? null) : null;
  }

  /** Every row's id (resolving those not asked for yet): for filters and groups over all rows. */
  all(): Int32Array {
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] === UNRESOLVED) this.id(i);
    return this.ids;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * A short readable name of the container or unit behind a cgroup path, by rules on its last parts:
 *  - a kubepods pod (kubepods-burstable-pod<uid>.slice, or /kubepods/besteffort/pod<uid>), and any
 *    container in it: the pod's uid, dashes restored;
 *  - a docker, containerd (cri-containerd), podman (libpod) or crio scope, or a directory named by
 *    a 64-hex id: the id's first 12 characters, as `docker ps` shows it;
 *  - a systemd unit (.service, .scope, .socket, .mount) as the last part: its name without the suffix.
 * undefined for anything else (a slice, the root, a cgroup made by hand).
 */
export function containerName(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const parts = path.split('/').filter((p) => p !== '');
  for (const part of parts) {
    const pod = /^(?:kubepods(?:-[a-z]+)*-)?pod([0-9a-f]{8}[_-][0-9a-f]{4}[_-][0-9a-f]{4}[_-][0-9a-f]{4}[_-][0-9a-f]{12})(?:\.slice)?$/.exec(part)?.[1];
    if (pod) return pod.replace(/_/g, '-');
  }
  for (let k = parts.length - 1; k >= 0; k--) {
    const part = parts[k] as string;
    const id = /^(?:docker|cri-containerd|libpod|crio|containerd)-([0-9a-f]{64})\.scope$/.exec(part)?.[1] ?? (HEX64.test(part) ? part : undefined);
    if (id) return id.slice(0, 12);
  }
  const last = parts.at(-1);
  const unit = last === undefined ? undefined : /^(.+)\.(?:service|scope|socket|mount)$/.exec(last)?.[1];
  return unit;
}

/** 'comm[pid]', or '-' for none; '*' for a group's mixed owners (undefined). */
export function procText(owner: Owner | null | undefined): string {
  if (owner === undefined) return '*';
  return owner === null ? '-' : `${owner.comm}[${owner.pid}]`;
}
