/** libbpf's error conventions turned into typed errors that say what to do. */
import koffi from 'koffi';

const errnoNames: ReadonlyMap<number, string> = new Map(
  Object.entries(koffi.os.errno as Record<string, number>).map(([name, num]) => [num, name]),
);

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

const HINTS: Readonly<Record<string, string>> = {
  EPERM: 'run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON',
  EACCES: 'run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON',
  ENODEV: 'check the interface name with `ip link`',
  ENOMEM: 'lower --max-flows, or raise the memlock limit (ulimit -l) on kernels older than 5.11',
  E2BIG: 'lower --max-flows',
  EBUSY: 'another program holds this hook: see `ip link` and `bpftool net`',
  EEXIST: 'another program holds this hook: see `ip link` and `bpftool net`',
  EOPNOTSUPP: 'the driver or kernel does not support this mode: try --xdp-mode generic or --hook tc',
};

/** A failed libbpf call: the operation, the errno name, and a hint that names the fix. */
export class BpfError extends Error {
  override readonly name = 'BpfError';
  constructor(
    readonly op: string,
    readonly errno: number,
    readonly hint?: string,
    readonly log?: string,
  ) {
    const code = errnoName(errno);
    super(`${op} failed: ${code}${hint ? ` (${hint})` : ''}`);
  }

  get code(): string {
    return errnoName(this.errno);
  }
}

/** Standard hint for an errno, if there is one. */
export function hintFor(errno: number): string | undefined {
  return HINTS[errnoName(errno)];
}

/** For int-returning libbpf calls, which return -errno. Returns ret when it is not an error. */
export function check(op: string, ret: number, log?: () => string): number {
  if (ret >= 0) return ret;
  const errno = -ret;
  throw new BpfError(op, errno, hintFor(errno), log?.());
}

/** For pointer-returning libbpf calls, which return NULL and set errno. */
export function checkPtr<T>(op: string, ptr: T | null, log?: () => string): T {
  if (ptr !== null && ptr !== 0n && ptr !== undefined) return ptr;
  const errno = koffi.errno() || 22; /* EINVAL when libbpf left no errno */
  throw new BpfError(op, errno, hintFor(errno), log?.());
}
