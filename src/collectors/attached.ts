/**
 * What is attached to an interface's XDP and tcx hooks, with program names: for refusing a foreign
 * XDP program, for finding tc-top programs left behind, and for tests that check a clean exit.
 * Legacy clsact filters are not listed here (libbpf cannot enumerate them); `tc filter show` does.
 */
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
