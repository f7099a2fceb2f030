/** What the process may do: effective capabilities from /proc, checked before touching the kernel. */
import { readFileSync } from 'node:fs';

const CAP = { NET_ADMIN: 12, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;

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
