/**
 * libc calls Node has no API for: prctl and capset to give up privileges (Node has setuid/setgid but
 * no capabilities), mallopt to keep the memory of large freed buffers from lingering, and
 * getsockopt for the network namespace's cookie.
 */
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
koffi.struct('tctop_cap_header', { version: 'uint32_t', pid: 'int' });
koffi.struct('tctop_cap_data', { effective: 'uint32_t', permitted: 'uint32_t', inheritable: 'uint32_t' });
const prctl = libc.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
const capset = libc.func('int capset(tctop_cap_header *hdr, tctop_cap_data *data)');
const mallopt = libc.func('int mallopt(int param, int value)');
const socket = libc.func('int socket(int domain, int type, int protocol)');
const getsockopt = libc.func('int getsockopt(int fd, int level, int optname, void *optval, void *optlen)');
const close = libc.func('int close(int fd)');

const PR_SET_KEEPCAPS = 8;
const PR_SET_NO_NEW_PRIVS = 38;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const M_MMAP_THRESHOLD = -3;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_NETNS_COOKIE = 71;

function ok(op: string, ret: number): void {
  if (ret !== 0) throw new Error(`${op} failed (errno ${koffi.errno()})`);
}

/** Keep the permitted capabilities across the next setuid (they are cleared otherwise). */
export function keepCapabilitiesAcrossSetuid(): void {
  ok('prctl(PR_SET_KEEPCAPS)', prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) as number);
}

/** Make `caps` (capability numbers below 64) the only effective and permitted ones; none inheritable. */
export function setCapabilities(caps: readonly number[]): void {
  const words = [0, 0];
  for (const c of caps) words[c >> 5]! |= (1 << (c & 31)) >>> 0;
  const data = [0, 1].map((i) => ({ effective: words[i]! >>> 0, permitted: words[i]! >>> 0, inheritable: 0 }));
  ok('capset', capset({ version: LINUX_CAPABILITY_VERSION_3, pid: 0 }, data) as number);
}

/** No execve from here on can gain privileges (setuid binaries, file capabilities). */
export function setNoNewPrivs(): void {
  ok('prctl(PR_SET_NO_NEW_PRIVS)', prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as number);
}

/**
 * Serve every allocation of `bytes` or more with its own mmap, so that its memory goes back to the
 * system when it is freed. A tick at a million flows allocates and drops tens of megabytes of
 * buffers (keys, columns); glibc raises its mmap threshold to the size of the first such block
 * freed and from then on keeps them in its heap, where freed memory stays resident. Setting the
 * threshold turns that adjustment off.
 *
 * Why 1 MB: a block served by mmap is new memory, whose every page faults when first touched, at
 * each tick again: at 100k flows a column is 400 or 800 kB, and its faults cost more than filling
 * it (about 11 µs a page on the bench's VM, docs/BENCHMARKS.md). Blocks under 1 MB come from the
 * heap, reused from tick to tick; a million flows' columns (4 and 8 MB) still go back to the
 * system. Returns false where mallopt refused.
 */
export function returnLargeFreesToSystem(bytes = 1024 * 1024): boolean {
  return (mallopt(M_MMAP_THRESHOLD, bytes) as number) === 1;
}

/**
 * The cookie of the calling thread's network namespace (SO_NETNS_COOKIE, kernel 5.14+): a 64-bit
 * number the kernel never gives to another namespace while it runs, unlike the namespace's inode
 * number, which a new namespace soon reuses. undefined where the kernel has no such option.
 */
export function netnsCookie(): bigint | undefined {
  const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) return undefined;
  try {
    const val = Buffer.alloc(8);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(8);
    if ((getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, val, len) as number) !== 0 || len.readUInt32LE() !== 8) return undefined;
    return val.readBigUInt64LE();
  } finally {
    close(fd);
  }
}
