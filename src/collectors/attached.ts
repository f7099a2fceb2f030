/**
 * What is attached to an interface's XDP and tcx hooks, with program names: for refusing a foreign
 * XDP program, for finding tc-top programs left behind, and for tests that check a clean exit.
 * Legacy clsact filters libbpf cannot enumerate: clsactState asks `tc filter show`.
 */
import { execFileSync } from 'node:child_process';
import { AttachType, progName, tcxProgramIds, xdpQuery } from '../ffi/libbpf.js';

export interface AttachedProgram {
  readonly hook: 'xdp' | 'tcx-ingress' | 'tcx-egress';
  readonly id: number;
  readonly name: string;
}

export function attachedPrograms(ifindex: number): AttachedProgram[] {
  const out: AttachedProgram[] = [];
  const q = xdpQuery(ifindex);
  for (const id of new Set([q.progId, q.drvProgId, q.skbProgId, q.hwProgId])) {
    if (id) out.push({ hook: 'xdp', id, name: progName(id) ?? '?' });
  }
  for (const [hook, type] of [['tcx-ingress', AttachType.TCX_INGRESS], ['tcx-egress', AttachType.TCX_EGRESS]] as const) {
    for (const id of tcxProgramIds(ifindex, type)) out.push({ hook, id, name: progName(id) ?? '?' });
  }
  return out;
}

export interface ClsactState {
  /** The priorities of the filters on each side, each once (tc prints a priority's line, then its filters'). */
  readonly ingress: readonly number[];
  readonly egress: readonly number[];
}

/**
 * An interface's clsact qdisc as iproute2's `tc` shows it (libbpf cannot list filters): null when
 * there is none, undefined when `tc` cannot tell.
 */
export function clsactState(ifname: string): ClsactState | null | undefined {
  // execFile, no shell; the name was validated by resolveInterface.
  const tc = (what: string, dir: string[] = []) => execFileSync('tc', [what, 'show', 'dev', ifname, ...dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const prefs = (dir: string) => [...new Set([...tc('filter', [dir]).matchAll(/^filter .*\bpref (\d+)\b/gm)].map((m) => Number(m[1])))];
  try {
    if (!/^qdisc clsact ffff:/m.test(tc('qdisc'))) return null;
    return { ingress: prefs('ingress'), egress: prefs('egress') };
  } catch {
    return undefined;
  }
}
