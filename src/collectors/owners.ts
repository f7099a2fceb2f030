/**
 * The owner object (bpf/tc_top_owner.bpf.o): loads it, attaches its programs to the cgroup v2 root
 * with BPF links (the kernel detaches them when tc-top dies, even by SIGKILL; nothing is pinned),
 * runs its task_file iterator once for the sockets that exist before tc-top, and reads its
 * `owners` map into an OwnerSample for each snapshot. A hook the kernel refuses costs one notice;
 * flows then go without owners where that hook would have named them.
 */
import { readTextOrEmpty } from './system-files.js';
import { existsSync, openSync, closeSync, readSync, readdirSync, statSync, constants } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../ffi/errors.js';
import { OwnerBss, OwnerConfig, OwnerIterator, OwnerKey, OwnerMaps, OwnerPrograms, OwnerValue } from '../ffi/layout.js';
import { AttachType, BpfObject, closeFd, iterCreate, linkCreate, mapLookupBatch, mapLookupElem } from '../ffi/libbpf.js';
import { netnsCookie } from '../ffi/process.js';
import { addressSortKey } from '../model/address.js';
import { containerName, tupleKey, type Owner, type OwnerSample } from '../model/owners.js';
import type { Teardown } from './teardown.js';

/** bpf/tc_top_owner.bpf.o at the package root (from src/ under tsx, or dist/src/ compiled). */
export function ownerObjectPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../bpf/tc_top_owner.bpf.o'), resolve(here, '../../../bpf/tc_top_owner.bpf.o')];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** The cgroup v2 mount point in a mounts table (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid layout). */
export function cgroup2Mount(mounts: string): string | undefined {
  for (const line of mounts.split('\n')) {
    const [, dir, type] = line.split(' ');
    if (type === 'cgroup2' && dir) return dir.replace(/\\040/g, ' ');
  }
  return undefined;
}



/** uid -> name from /etc/passwd, read once. */
function userNames(passwd = readTextOrEmpty('/etc/passwd')): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of passwd.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid && /^\d+$/.test(uid) && !names.has(Number(uid))) names.set(Number(uid), name);
  }
  return names;
}

/** cgroup id (the inode of its directory in the cgroup2 mount) -> its path, by walking the mount; walked again at most every 2 s for an unknown id. */
export class CgroupPaths {
  private readonly paths = new Map<bigint, string>();
  private lastWalk = -Infinity;

  constructor(private readonly mount: string) {}

  private walk(): void {
    const stack = [''];
    while (stack.length > 0) {
      const rel = stack.pop() as string;
      const dir = join(this.mount, rel);
      try {
        this.paths.set(statSync(dir, { bigint: true }).ino, rel === '' ? '/' : `/${rel}`);
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) stack.push(rel === '' ? e.name : `${rel}/${e.name}`);
      } catch {
        /* gone while walking */
      }
    }
  }

  pathOf(id: bigint): string | undefined {
    let path = this.paths.get(id);
    if (path === undefined && performance.now() - this.lastWalk > 2000) {
      this.lastWalk = performance.now();
      this.walk();
      path = this.paths.get(id);
    }
    return path;
  }
}

/** The addresses of this namespace's interfaces, as addressSortKey gives them. */
function localAddresses(): Set<string> {
  const local = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) local.add(addressSortKey(a.address.replace(/%.*$/, '')));
  }
  return local;
}

function hexOf(buf: Buffer, off: number, family: number): string {
  return `${family}${buf.toString('hex', off, off + (family === 6 ? 16 : 4))}`;
}

/** A command line read once, on first ask. */
function cmdlineOnce(pid: number): () => string | undefined {
  let read = false;
  let text: string | undefined;
  return () => {
    if (!read) {
      read = true;
      const raw = readTextOrEmpty(`/proc/${pid}/cmdline`);
      text = raw === '' ? undefined : raw.replace(/\0+$/, '').replace(/\0/g, ' ');
    }
    return text;
  };
}

const BATCH = 4096;

export class OwnerProbe {
  /** Programs attached, by name, and those the kernel refused. */
  readonly attached: string[] = [];
  readonly refused: string[] = [];
  private readonly table: Owner[] = [];
  private readonly ids = new Map<string, number>();
  private byTuple = new Map<string, number>();
  private written = -1n;
  private readonly users = userNames();
  private readonly cgroups: CgroupPaths;
  private readonly keys = Buffer.alloc(OwnerKey.size * BATCH);
  private readonly values = Buffer.alloc(OwnerValue.size * BATCH);
  private readonly bssBuf = Buffer.alloc(OwnerBss.size);

  private constructor(
    private readonly ownersFd: number,
    private readonly bssFd: number,
    mount: string,
    private readonly writtenAtHook: () => bigint,
  ) {
    this.cgroups = new CgroupPaths(mount);
  }

  /**
   * Load (on the counter object's owner maps), attach to the cgroup v2 root and walk the existing
   * sockets; undefined (with a notice) when the kernel takes none of it. Every resource's release
   * goes on `teardown` at once.
   */
  static start(teardown: Teardown, notice: (msg: string) => void, shared: SharedOwnerMaps): OwnerProbe | undefined {
    const off = (why: string): undefined => {
      notice(`no process owners: ${why} (flows show '-'; --no-processes hides this notice)`);
      return undefined;
    };
    const root = cgroup2Mount(readTextOrEmpty('/proc/self/mounts'));
    // `ip netns exec` gives its command a /sys of its own, without the cgroup mounts.
    if (!root) return off('no cgroup2 mount in this mount namespace (under `ip netns exec`, run tc-top with `nsenter --net=/run/netns/NAME` instead)');
    const cookie = netnsCookie();
    if (cookie === undefined) return off('this kernel has no network namespace cookie (5.14+ has)');
    const config = Buffer.alloc(OwnerConfig.size);
    config.writeBigUInt64LE(cookie, OwnerConfig.netnsCookie);

    // The whole object at once; where the kernel refuses it, each program alone to find which.
    let refused: string[] = [];
    let obj = loadOwnerObject(config, shared, refused);
    if (!obj) {
      refused = refusedPrograms(config, shared);
      if (refused.length === OwnerPrograms.length + 1) return off(`the kernel refused every owner program (${refused.join(', ')})`);
      obj = loadOwnerObject(config, shared, refused);
      if (!obj) return off('the kernel refused the owner object');
    }
    const loaded = obj;
    teardown.defer('closed the owner object', () => loaded.close(), true);
    const owners = loaded.mapInfo(OwnerMaps.owners);
    const bss = loaded.mapInfo(OwnerMaps.bss);
    if (owners.keySize !== OwnerKey.size || owners.valueSize !== OwnerValue.size || bss.valueSize !== OwnerBss.size) {
      return off(`bpf/tc_top_owner.bpf.o does not match this tc-top (key ${owners.keySize}/${OwnerKey.size}, value ${owners.valueSize}/${OwnerValue.size} bytes): rebuild it with \`npm run build:bpf\``);
    }
    let cgroupFd: number;
    try {
      cgroupFd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      return off(`cannot open ${root} (${(err as NodeJS.ErrnoException).code})`);
    }
    teardown.defer(`closed ${root}`, () => closeSync(cgroupFd), true);
    const probe = new OwnerProbe(owners.fd, bss.fd, root, shared.writtenAtHook);
    probe.refused.push(...refused);
    for (const name of OwnerPrograms) {
      if (refused.includes(name)) continue;
      try {
        const link = linkCreate(loaded.programFd(name), cgroupFd, loaded.expectedAttachType(name));
        teardown.defer(`detached ${name} from the cgroup root`, () => closeFd(link), true);
        probe.attached.push(name);
      } catch (err) {
        probe.refused.push(name);
      }
    }
    if (!refused.includes(OwnerIterator)) {
      try {
        runIterator(loaded.programFd(OwnerIterator));
      } catch {
        probe.refused.push(OwnerIterator);
      }
    }
    if (probe.attached.length === 0) return off(`the kernel refused every owner hook (${probe.refused.join(', ')})`);
    if (probe.refused.length > 0) notice(`process owners without ${probe.refused.join(', ')} (refused by this kernel): some flows show '-'`);
    return probe;
  }

  /** The owners map as a sample; read again only when the programs wrote to it since the last read. */
  read(): OwnerSample {
    if (!mapLookupElem(this.bssFd, Buffer.alloc(4), this.bssBuf)) throw new BpfError("reading the owner programs' .bss", 2);
    // Written by the owner programs or by the counter programs' TC egress hook.
    const written = this.bssBuf.readBigUInt64LE(OwnerBss.written) + this.writtenAtHook();
    if (written !== this.written) {
      this.written = written;
      this.byTuple = this.readOwners();
    }
    return { table: this.table, byTuple: this.byTuple, local: localAddresses() };
  }

  private readOwners(): Map<string, number> {
    const byTuple = new Map<string, number>();
    const inBatch = Buffer.alloc(OwnerKey.size);
    const outBatch = Buffer.alloc(OwnerKey.size);
    let first = true;
    for (;;) {
      const { count, done } = mapLookupBatch(this.ownersFd, first ? null : inBatch, outBatch, this.keys, this.values, BATCH);
      first = false;
      for (let e = 0; e < count; e++) this.take(byTuple, e);
      if (done || count === 0) break;
      outBatch.copy(inBatch);
    }
    return byTuple;
  }

  private take(byTuple: Map<string, number>, e: number): void {
    const k = e * OwnerKey.size;
    const v = e * OwnerValue.size;
    const family = this.keys[k + OwnerKey.family] as number;
    const key = tupleKey(
      this.keys[k + OwnerKey.proto] as number,
      hexOf(this.keys, k + OwnerKey.laddr, family),
      this.keys.readUInt16LE(k + OwnerKey.lport),
      hexOf(this.keys, k + OwnerKey.raddr, family),
      this.keys.readUInt16LE(k + OwnerKey.rport),
    );
    const pid = this.values.readUInt32LE(v + OwnerValue.tgid);
    const uid = this.values.readUInt32LE(v + OwnerValue.uid);
    const cgroupId = this.values.readBigUInt64LE(v + OwnerValue.cgroupId);
    const commBytes = this.values.subarray(v + OwnerValue.comm, v + OwnerValue.comm + 16);
    const end = commBytes.indexOf(0);
    const comm = commBytes.toString('utf8', 0, end < 0 ? 16 : end);
    const id = `${pid} ${uid} ${cgroupId} ${comm}`;
    let n = this.ids.get(id);
    if (n === undefined) {
      const cgroup = this.cgroups.pathOf(cgroupId);
      n = this.table.length;
      this.table.push({ pid, comm, uid, user: this.users.get(uid), cgroup, container: containerName(cgroup), cmdline: cmdlineOnce(pid) });
      this.ids.set(id, n);
    }
    byTuple.set(key, n);
  }
}

/** The counter object's maps the owner object shares (tc_top_owner.h), and its count of entries written at the TC hook. */
export interface SharedOwnerMaps {
  readonly owners: number;
  readonly sockOwners: number;
  readonly writtenAtHook: () => bigint;
}

/** The owner object loaded without the `left` programs, or undefined (and closed) when the kernel refuses it. */
function loadOwnerObject(config: Buffer, shared: SharedOwnerMaps, left: readonly string[], only?: string): BpfObject | undefined {
  const obj = BpfObject.open(ownerObjectPath());
  try {
    obj.setInitialValue(OwnerMaps.rodata, config);
    obj.reuseMap(OwnerMaps.owners, shared.owners);
    obj.reuseMap(OwnerMaps.sockOwners, shared.sockOwners);
    for (const name of [...OwnerPrograms, OwnerIterator]) if (left.includes(name) || (only !== undefined && name !== only)) obj.setAutoload(name, false);
    obj.load();
    return obj;
  } catch {
    obj.close();
    return undefined;
  }
}

/** The programs the kernel refuses, each loaded alone. */
function refusedPrograms(config: Buffer, shared: SharedOwnerMaps): string[] {
  return [...OwnerPrograms, OwnerIterator].filter((name) => {
    const one = loadOwnerObject(config, shared, [], name);
    one?.close();
    return !one;
  });
}

/** Run the task_file iterator once: each read of its fd runs the program over more tasks' files. */
function runIterator(progFd: number): void {
  const link = linkCreate(progFd, 0, AttachType.TRACE_ITER);
  try {
    const fd = iterCreate(link);
    try {
      const buf = Buffer.alloc(4096);
      while (readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      closeFd(fd);
    }
  } finally {
    closeFd(link);
  }
}
