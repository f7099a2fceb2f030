/**
 * Attaching tc-top's programs: BPF links first (the kernel detaches them if the process dies,
 * even by SIGKILL), netlink attachment as the fallback on kernels without them. Never replaces or
 * removes what tc-top did not create.
 */
import { BpfError } from '../ffi/errors.js';
import {
  AttachType,
  TcAttachPoint,
  XdpFlags,
  closeFd,
  ifIndexToName,
  linkCreate,
  progName,
  tcAttach,
  tcDetach,
  tcHookCreate,
  tcHookDestroy,
  tcQuery,
  xdpAttach,
  xdpDetach,
  xdpQuery,
} from '../ffi/libbpf.js';
import { PROGRAM_PREFIX } from '../ffi/layout.js';
import type { Direction } from '../model/types.js';
import type { Iface } from './interfaces.js';
import type { Teardown } from './teardown.js';
import { type ClsactClaim, RECORD_DIR, claimClsactRecord, recordClsact } from './clsact-record.js';
import { heldPrograms } from './leftovers.js';
import { clsactState } from './attached.js';
import { TC_HANDLE, TC_PRIORITIES } from './tc-band.js';
import { noTcx, releaseHas, tcxFallback } from './kernel-features.js';

export type XdpMode = 'auto' | 'native' | 'generic';
export type TcMode = 'auto' | 'tcx' | 'legacy';

export interface HookInfo {
  readonly ifname: string;
  readonly ifindex: number;
  readonly kind: 'xdp' | 'tc';
  readonly dir: Direction;
  /** xdp: native or generic; tc: tcx (a link) or clsact (a legacy netlink filter); test-run: frames of a capture (tc-top -r), nothing attached. */
  readonly mode: 'native' | 'generic' | 'tcx' | 'clsact' | 'test-run';
  /** True when the kernel owns the detach (a BPF link). */
  readonly link: boolean;
}

export function describeHook(h: HookInfo): string {
  return h.kind === 'xdp' ? `xdp (${h.mode})` : `tc ${h.dir} (${h.mode})`;
}

/** True when the interface (by index) no longer exists: its hooks went with it. */
export function gone(iface: Iface): boolean {
  return ifIndexToName(iface.index) === undefined;
}

function goneLine(iface: Iface): string {
  return `${iface.name} is gone, and tc-top's hooks with it`;
}

/** A hook tc-top will not take: the message says what holds it and what to do. */
export class HookBusyError extends Error {
  override readonly name = 'HookBusyError';
}

/** The kernel lacks what the chosen mode needs: the message names the feature and its release. */
export class KernelFeatureError extends Error {
  override readonly name = 'KernelFeatureError';
}

const EINVAL = 22;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;

function isUnsupported(err: unknown): boolean {
  return err instanceof BpfError && [EINVAL, EOPNOTSUPP, ENOTSUPP].includes(err.errno);
}

function foreignXdpCheck(iface: Iface): void {
  const q = xdpQuery(iface.index);
  const id = q.progId || q.drvProgId || q.skbProgId || q.hwProgId;
  if (!id) return;
  const name = progName(id) ?? '?';
  if (name.startsWith(PROGRAM_PREFIX)) {
    const pid = heldPrograms().get(id);
    throw new HookBusyError(
      pid
        ? `another tc-top (pid ${pid}) holds the XDP hook of ${iface.name}: run this one with --hook tc`
        : `${iface.name} still has tc-top's XDP program (id ${id}) from a run that was killed: remove it with \`tc-top --cleanup -i ${iface.name}\``,
    );
  }
  throw new HookBusyError(
    `${iface.name} already has an XDP program (id ${id}, name ${name}); tc-top never replaces it: use --hook tc`,
  );
}

/**
 * Attach the XDP program. auto tries native (driver) mode and falls back to generic (skb) mode,
 * reporting the fallback through notice().
 */
export function attachXdp(
  iface: Iface,
  progFd: number,
  mode: XdpMode,
  teardown: Teardown,
  notice: (msg: string) => void,
): HookInfo {
  foreignXdpCheck(iface);
  const tries: ('native' | 'generic')[] = mode === 'auto' ? ['native', 'generic'] : [mode];
  let lastErr: unknown;
  for (const m of tries) {
    const flags = m === 'native' ? XdpFlags.DRV_MODE : XdpFlags.SKB_MODE;
    try {
      const fd = linkCreate(progFd, iface.index, AttachType.XDP, flags);
      const info: HookInfo = { ifname: iface.name, ifindex: iface.index, kind: 'xdp', dir: 'ingress', mode: m, link: true };
      teardown.defer(`detached ${describeHook(info)} from ${iface.name}`, () => {
        closeFd(fd);
        if (gone(iface)) return goneLine(iface);
      });
      return info;
    } catch (err) {
      lastErr = err;
      if (!(err instanceof BpfError)) throw err;
      if (err.errno === 16 || err.errno === 17) foreignXdpCheck(iface); /* raced: say who */
      // No XDP links (before 5.9): netlink attachment, detached explicitly on exit.
      if (err.errno === EINVAL && m === tries[tries.length - 1]) {
        try {
          xdpAttach(iface.index, progFd, flags);
          const info: HookInfo = { ifname: iface.name, ifindex: iface.index, kind: 'xdp', dir: 'ingress', mode: m, link: false };
          teardown.defer(`detached ${describeHook(info)} from ${iface.name}`, () => (gone(iface) ? goneLine(iface) : xdpDetach(iface.index, progFd, flags)));
          return info;
        } catch (err2) {
          lastErr = err2;
        }
      }
      if (m === 'native' && mode === 'auto') {
        notice(`native XDP is not available on ${iface.name} (${err.code}); using generic XDP`);
      }
    }
  }
  if (lastErr instanceof BpfError) {
    throw new BpfError(
      `attaching XDP (${mode}) to ${iface.name}`,
      lastErr.errno,
      mode === 'native' ? 'the driver refused native XDP: try --xdp-mode generic or --hook tc' : lastErr.hint,
      lastErr.log,
    );
  }
  throw lastErr;
}

function attachInBand(iface: Iface, point: number, progFd: number) {
  for (const priority of TC_PRIORITIES) {
    try {
      return tcAttach(iface.index, point, progFd, TC_HANDLE, priority);
    } catch (err) {
      if (!(err instanceof BpfError) || err.errno !== 17) throw err; /* EEXIST: the next slot */
    }
  }
  throw new HookBusyError(`${iface.name} has no free tc-top filter slot (${TC_PRIORITIES.length} in use): remove old ones with \`tc-top --cleanup -i ${iface.name}\``);
}

/** Whether a clsact qdisc holds any filter (undefined: could not tell). */
function clsactHasFilters(ifname: string): boolean | undefined {
  const st = clsactState(ifname);
  return st === undefined ? undefined : st !== null && st.ingress.length + st.egress.length > 0;
}

/**
 * Destroy the clsact qdisc on exit only if tc-top created it: this run (`created`), or a run that
 * was killed or still runs, as its record under /run says. The record lets `--cleanup` and the next
 * start know a killed run's qdisc; it goes when the qdisc goes. A clsact tc-top did not create
 * has no record and is never destroyed.
 */
function holdClsact(iface: Iface, created: boolean, teardown: Teardown, notice: (msg: string) => void): void {
  let claim: ClsactClaim | undefined;
  try {
    claim = created ? recordClsact(iface) : claimClsactRecord(iface);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (created) notice(`could not record under ${RECORD_DIR} that tc-top added the clsact qdisc of ${iface.name} (${why}): if this run is killed, \`tc-top --cleanup\` will leave the qdisc`);
    else notice(`could not read the record of the clsact qdisc of ${iface.name} under ${RECORD_DIR} (${why}): it stays on exit`);
  }
  if (!created && !claim) return; /* not tc-top's */
  teardown.defer(`removed the clsact qdisc tc-top added to ${iface.name}`, () => {
    if (gone(iface)) {
      claim?.release();
      return goneLine(iface);
    }
    // Another tool (or another tc-top) may have put filters on it meanwhile: never take them away.
    const inUse = clsactHasFilters(iface.name);
    if (inUse !== false) {
      claim?.close(); /* the record stays, for whoever removes the qdisc */
      return `kept the clsact qdisc tc-top added to ${iface.name}: ${inUse ? 'other filters use it' : 'could not check it is unused (no `tc`)'}`;
    }
    try {
      tcHookDestroy(iface.index);
    } finally {
      claim?.release();
    }
  });
}

/** Attach a TC program: a tcx link (kernel 6.6+), else a cls_bpf filter on clsact. */
export function attachTc(
  iface: Iface,
  dir: Direction,
  progFd: number,
  mode: TcMode,
  teardown: Teardown,
  clsactSeen: Set<number>,
  notice: (msg: string) => void = () => {},
): HookInfo {
  if (mode !== 'legacy') {
    try {
      const fd = linkCreate(progFd, iface.index, dir === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS);
      const info: HookInfo = { ifname: iface.name, ifindex: iface.index, kind: 'tc', dir, mode: 'tcx', link: true };
      teardown.defer(`detached ${describeHook(info)} from ${iface.name}`, () => {
        closeFd(fd);
        if (gone(iface)) return goneLine(iface);
      });
      return info;
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      // Before 6.6 the kernel knows no tcx attach type and answers EINVAL; on a later release the
      // refusal has another cause, and the errno says more than the table.
      const noTcxHere = err instanceof BpfError && err.errno === EINVAL && !releaseHas('tcx');
      if (mode === 'tcx') throw noTcxHere ? new KernelFeatureError(noTcx()) : err;
      notice(noTcxHere ? tcxFallback() : `tcx refused on ${iface.name} (${(err as BpfError).code}): using clsact filters`);
    }
  }
  const point = dir === 'ingress' ? TcAttachPoint.INGRESS : TcAttachPoint.EGRESS;
  // The clsact qdisc serves both directions: settle it once per interface.
  if (!clsactSeen.has(iface.index)) {
    clsactSeen.add(iface.index);
    holdClsact(iface, tcHookCreate(iface.index, point), teardown, notice);
  }
  const { handle, priority, progId } = attachInBand(iface, point, progFd);
  const info: HookInfo = { ifname: iface.name, ifindex: iface.index, kind: 'tc', dir, mode: 'clsact', link: false };
  teardown.defer(`detached ${describeHook(info)} from ${iface.name}`, () => {
    if (gone(iface)) return goneLine(iface);
    // Only our own filter: if something replaced it at this handle/priority, leave it alone.
    if (tcQuery(iface.index, point, handle, priority) === progId) tcDetach(iface.index, point, handle, priority);
  });
  return info;
}
