/**
 * Which clsact qdiscs tc-top created, kept under /run so that `--cleanup` and the next start know
 * it after a killed run: a qdisc has no owner, so afterwards tc-top could only guess, and a guess
 * would either leave the empty qdisc of a killed run forever or take away one somebody else made.
 * /run empties at reboot, as the qdiscs do.
 *
 * One file per interface: /run/tc-top/clsact-<netns>-<ifindex>.json. /run is shared by every network
 * namespace, so <netns> names the namespace by its cookie (never given to another namespace while
 * the machine runs; its inode number, the fallback on kernels before 5.14, soon is). A record is
 * written under another name and renamed into place, so a file under a record's name is never half
 * written.
 *
 * A run that created (or found recorded) the clsact keeps its record open. It drops the record when
 * the qdisc goes: by unlinking it, or, once it has given up root and may no longer unlink in
 * /run/tc-top, by emptying it through the descriptor it kept. An empty record is no record; the next
 * start or `--cleanup` as root deletes it.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync, constants } from 'node:fs';
import { netnsCookie } from '../ffi/process.js';
import type { Iface } from './interfaces.js';

export const RECORD_DIR = '/run/tc-top';

export interface ClsactRecord {
  readonly ifname: string;
  readonly ifindex: number;
  /** `cookie:N`, or `inode:N` where the kernel has no namespace cookie. */
  readonly netns: string;
  /** The tc-top that created the qdisc, and when (for a reader: nothing depends on them). */
  readonly pid: number;
  readonly created: string;
}

let netnsKey: string | undefined;

/** This process's network namespace, as records name it. */
export function netnsId(): string {
  if (netnsKey === undefined) {
    const cookie = netnsCookie();
    netnsKey = cookie !== undefined ? `cookie:${cookie}` : `inode:${statSync('/proc/self/ns/net').ino}`;
  }
  return netnsKey;
}

export function recordPath(ifindex: number, dir = RECORD_DIR): string {
  return `${dir}/clsact-${netnsId().replace(':', '')}-${ifindex}.json`;
}

const isErrno = (err: unknown, ...codes: string[]) => err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');

function parse(text: string, iface: Iface): ClsactRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<ClsactRecord>;
    if (r.ifindex !== iface.index || r.netns !== netnsId()) return undefined;
    // An inode is reused by later namespaces, whose interfaces can have the same index: the name must agree too.
    if (r.netns.startsWith('inode:') && r.ifname !== iface.name) return undefined;
    return r as ClsactRecord;
  } catch {
    return undefined; /* empty (released) or not a record */
  }
}

/** The record of the interface's clsact, if tc-top created it. */
export function readClsactRecord(iface: Iface, dir = RECORD_DIR): ClsactRecord | undefined {
  try {
    return parse(readFileSync(recordPath(iface.index, dir), 'utf8'), iface);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
}

/** A record this run holds open, to drop when the qdisc goes. */
export class ClsactClaim {
  private fd: number | undefined;
  private readonly ino: number;

  constructor(
    readonly path: string,
    readonly record: ClsactRecord,
  ) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
    this.ino = fstatSync(this.fd).ino;
  }

  /** The qdisc is gone: drop the record (if it is still the one this run holds). */
  release(): void {
    if (this.fd === undefined) return;
    try {
      if (statSync(this.path).ino !== this.ino) return; /* replaced by a newer record: not ours to drop */
      try {
        unlinkSync(this.path);
        removeDirIfEmpty(this.path.slice(0, this.path.lastIndexOf('/')));
      } catch (err) {
        if (!isErrno(err, 'EACCES', 'EPERM')) throw err;
        ftruncateSync(this.fd, 0); /* no longer root: an empty record is no record */
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    } finally {
      this.close();
    }
  }

  /** The qdisc stays (filters use it): keep the record for whoever removes it. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Record that this run has just created the interface's clsact. The qdisc comes first: killed in
 * between, tc-top leaves an unrecorded clsact behind (kept, as one it did not create), never a
 * record of a qdisc it did not create.
 */
export function recordClsact(iface: Iface, dir = RECORD_DIR): ClsactClaim {
  const record: ClsactRecord = { ifname: iface.name, ifindex: iface.index, netns: netnsId(), pid: process.pid, created: new Date().toISOString() };
  const path = recordPath(iface.index, dir);
  const tmp = `${path}.${process.pid}.tmp`;
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      // O_EXCL|O_NOFOLLOW: never write through a file or link that was already there.
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      try {
        writeFileSync(fd, `${JSON.stringify(record)}\n`);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      return new ClsactClaim(path, record);
    } catch (err) {
      // The directory went away between mkdir and open (another tc-top removed it empty): once more.
      if (attempt === 0 && isErrno(err, 'ENOENT')) continue;
      try {
        unlinkSync(tmp);
      } catch {
        /* not made */
      }
      throw err;
    }
  }
}

/** Hold the record of a clsact a previous (or concurrent) tc-top created, to drop it if this run removes the qdisc. */
export function claimClsactRecord(iface: Iface, dir = RECORD_DIR): ClsactClaim | undefined {
  const record = readClsactRecord(iface, dir);
  if (!record) return undefined;
  try {
    return new ClsactClaim(recordPath(iface.index, dir), record);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined; /* dropped meanwhile */
    throw err;
  }
}

/** Delete the interface's record (as root: `--cleanup`, or a record whose qdisc is gone). */
export function forgetClsact(iface: Iface, dir = RECORD_DIR): void {
  try {
    unlinkSync(recordPath(iface.index, dir));
    removeDirIfEmpty(dir);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}

/**
 * Delete released (empty) records, and the half-written files of processes that are gone; then the
 * directory, if nothing is left in it. Any namespace's: an empty record means nothing anywhere.
 */
export function sweepRecords(dir = RECORD_DIR): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = `${dir}/${name}`;
    try {
      const tmp = /^clsact-.*\.json\.(\d+)\.tmp$/.exec(name);
      if (tmp ? !pidAlive(Number(tmp[1])) : /^clsact-.*\.json$/.test(name) && statSync(path).size === 0) unlinkSync(path);
    } catch {
      /* gone meanwhile, or not ours to delete */
    }
  }
  removeDirIfEmpty(dir);
}

function pidAlive(pid: number): boolean {
  try {
    statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function removeDirIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* not empty, gone, or not ours: it stays */
  }
}
