/** What the process may do: effective capabilities from /proc, checked before touching the kernel. */
import { readTextOrEmpty } from './system-files.js';
import { readFileSync } from 'node:fs';

export const CAP = { NET_ADMIN: 12, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;

export function effectiveCapabilities(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/**
 * The capabilities tc-top lacks to load and attach its programs, by name; [] when it has them.
 * CAP_SYS_ADMIN covers CAP_BPF and CAP_PERFMON (kernels before 5.8 know only it).
 */
export function missingCapabilities(eff = effectiveCapabilities()): string[] {
  const has = (n: number) => (eff & (1n << BigInt(n))) !== 0n;
  const missing: string[] = [];
  if (!has(CAP.NET_ADMIN)) missing.push('CAP_NET_ADMIN');
  if (!has(CAP.SYS_ADMIN)) {
    if (!has(CAP.BPF)) missing.push('CAP_BPF');
    if (!has(CAP.PERFMON)) missing.push('CAP_PERFMON');
  }
  return missing;
}

export interface DropTarget {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

/** Who to become: the user who ran sudo (SUDO_UID/SUDO_GID), else nobody. Never root. */
export function dropTarget(env: NodeJS.ProcessEnv = process.env, passwd = readTextOrEmpty('/etc/passwd')): DropTarget {
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  if (Number.isInteger(uid) && uid > 0 && Number.isInteger(gid) && gid > 0) return { uid, gid, name: env.SUDO_USER ?? String(uid) };
  const nobody = passwd.split('\n').find((l) => l.startsWith('nobody:'))?.split(':');
  const nuid = Number(nobody?.[2]);
  const ngid = Number(nobody?.[3]);
  return Number.isInteger(nuid) && nuid > 0 && Number.isInteger(ngid) && ngid > 0 ? { uid: nuid, gid: ngid, name: 'nobody' } : { uid: 65534, gid: 65534, name: 'nobody' };
}

/**
 * Become `target`, with no supplementary groups, no capabilities but `keep`, and no_new_privs.
 * The BPF map and link fds already open keep working: reading and deleting map entries needs no
 * privilege, and closing a link detaches it.
 */
export async function dropPrivileges(target: DropTarget, keep: readonly number[]): Promise<void> {
  const { keepCapabilitiesAcrossSetuid, setCapabilities, setNoNewPrivs } = await import('../ffi/process.js');
  // Started as an unprivileged user with capabilities: there is no identity to give up, only those.
  if (process.geteuid!() === 0) {
    if (keep.length > 0) keepCapabilitiesAcrossSetuid();
    process.setgroups!([]);
    process.setgid!(target.gid);
    process.setuid!(target.uid);
  }
  setCapabilities(keep);
  setNoNewPrivs();
}

