/**
 * koffi bindings to the system's libbpf.so.1 (>= 1.0) and the few libc calls tc-top needs.
 * The only module that touches koffi, with errors.ts. Pointers stay opaque here: callers get
 * classes and numbers (fds), never koffi types.
 */
import koffi from 'koffi';
import { BpfError, check, checkPtr } from './errors.js';

type Ptr = unknown;

/** Thrown when libbpf.so.1 cannot be loaded or is too old. */
export class LibbpfMissingError extends Error {
  override readonly name = 'LibbpfMissingError';
}

// Options structs begin with their own size; koffi computes the layout, sz is set from koffi.sizeof.
const TcHook = koffi.struct('bpf_tc_hook', {
  sz: 'size_t',
  ifindex: 'int',
  attach_point: 'int',
  parent: 'uint32_t',
});
const TcOpts = koffi.struct('bpf_tc_opts', {
  sz: 'size_t',
  prog_fd: 'int',
  flags: 'uint32_t',
  prog_id: 'uint32_t',
  handle: 'uint32_t',
  priority: 'uint32_t',
});
const LinkCreateOpts = koffi.struct('tctop_link_create_opts', {
  sz: 'size_t',
  flags: 'uint32_t',
});
const XdpAttachOpts = koffi.struct('tctop_xdp_attach_opts', {
  sz: 'size_t',
  old_prog_fd: 'int',
});
const XdpQueryOpts = koffi.struct('tctop_xdp_query_opts', {
  sz: 'size_t',
  prog_id: 'uint32_t',
  drv_prog_id: 'uint32_t',
  hw_prog_id: 'uint32_t',
  skb_prog_id: 'uint32_t',
  attach_mode: 'uint8_t',
});
const TestRunOpts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});
const ProgQueryOpts = koffi.struct('tctop_prog_query_opts', {
  sz: 'size_t',
  query_flags: 'uint32_t',
  attach_flags: 'uint32_t',
  prog_ids: 'void *',
  prog_cnt: 'uint32_t',
  prog_attach_flags: 'void *',
});
const PrintFn = koffi.proto('int tctop_libbpf_print_fn(int level, const char *fmt, void *args)');

function loadLibbpf(): ReturnType<typeof koffi.load> {
  try {
    return koffi.load('libbpf.so.1');
  } catch (err) {
    // libbpf 0.x (Ubuntu 22.04 ships only 0.5) has other error conventions and lacks functions
    // tc-top calls (bpf_xdp_attach came in 0.8): tc-top does not support it, and says so.
    let old = false;
    try {
      koffi.load('libbpf.so.0');
      old = true;
    } catch {
      /* no libbpf at all */
    }
    throw new LibbpfMissingError(
      old
        ? 'only libbpf 0.x (libbpf.so.0) was found, as on Ubuntu 22.04: tc-top needs libbpf 1.0 or newer (libbpf.so.1): build it from https://github.com/libbpf/libbpf (`make -C src install`), or use a distribution that ships it (Debian 12, Ubuntu 22.10 and later)'
        : 'libbpf.so.1 was not found: install it (Debian/Ubuntu: apt-get install libbpf1; Fedora: dnf install libbpf)',
    );
  }
}

const lib = loadLibbpf();
const libc = koffi.load('libc.so.6');

const f = bindAll(() => ({
  versionString: lib.func('const char *libbpf_version_string(void)'),
  numPossibleCpus: lib.func('int libbpf_num_possible_cpus(void)'),
  setPrint: lib.func('void *libbpf_set_print(tctop_libbpf_print_fn *fn)'),
  objectOpenFile: lib.func('void *bpf_object__open_file(const char *path, void *opts)'),
  objectLoad: lib.func('int bpf_object__load(void *obj)'),
  objectClose: lib.func('void bpf_object__close(void *obj)'),
  findMap: lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
  findProgram: lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
  mapSetType: lib.func('int bpf_map__set_type(void *map, int type)'),
  mapSetMaxEntries: lib.func('int bpf_map__set_max_entries(void *map, uint32_t max)'),
  mapReuseFd: lib.func('int bpf_map__reuse_fd(void *map, int fd)'),
  mapSetInitialValue: lib.func('int bpf_map__set_initial_value(void *map, const void *data, size_t size)'),
  mapFd: lib.func('int bpf_map__fd(void *map)'),
  mapKeySize: lib.func('uint32_t bpf_map__key_size(void *map)'),
  mapValueSize: lib.func('uint32_t bpf_map__value_size(void *map)'),
  mapMaxEntries: lib.func('uint32_t bpf_map__max_entries(void *map)'),
  mapType: lib.func('int bpf_map__type(void *map)'),
  programFd: lib.func('int bpf_program__fd(void *prog)'),
  programSetExpectedAttachType: lib.func('int bpf_program__set_expected_attach_type(void *prog, int type)'),
  programSetAutoload: lib.func('int bpf_program__set_autoload(void *prog, bool autoload)'),
  programAttach: lib.func('void *bpf_program__attach(void *prog)'),
  linkDestroy: lib.func('int bpf_link__destroy(void *link)'),
  programExpectedAttachType: lib.func('int bpf_program__expected_attach_type(void *prog)'),
  iterCreate: lib.func('int bpf_iter_create(int link_fd)'),
  linkCreate: lib.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, const tctop_link_create_opts *opts)'),
  xdpAttach: lib.func('int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const tctop_xdp_attach_opts *opts)'),
  xdpDetach: lib.func('int bpf_xdp_detach(int ifindex, uint32_t flags, const tctop_xdp_attach_opts *opts)'),
  xdpQuery: lib.func('int bpf_xdp_query(int ifindex, int flags, _Inout_ tctop_xdp_query_opts *opts)'),
  tcHookCreate: lib.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
  tcHookDestroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)'),
  tcAttach: lib.func('int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  tcDetach: lib.func('int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)'),
  tcQuery: lib.func('int bpf_tc_query(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  mapLookupBatch: lib.func(
    'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, void *opts)',
  ),
  mapLookupElem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  mapUpdateElem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  mapDeleteElem: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  mapDeleteBatch: lib.func('int bpf_map_delete_batch(int fd, const void *keys, void *count, void *opts)'),
  mapGetNextKey: lib.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
  progTestRun: lib.func('int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)'),
  progTestRunRaw: lib.func('int bpf_prog_test_run_opts(int prog_fd, void *opts)'),
  progQuery: lib.func('int bpf_prog_query_opts(int target, int type, _Inout_ tctop_prog_query_opts *opts)'),
  progGetFdById: lib.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
  objGetInfoByFd: lib.func('int bpf_obj_get_info_by_fd(int fd, void *info, void *info_len)'),
  close: libc.func('int close(int fd)'),
  mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)'),
  munmap: libc.func('int munmap(void *addr, size_t length)'),
  ifNameToIndex: libc.func('uint32_t if_nametoindex(const char *name)'),
  ifIndexToName: libc.func('char *if_indextoname(uint32_t index, void *buf)'),
  vsnprintf: libc.func('int vsnprintf(void *buf, size_t size, const char *fmt, void *args)'),
}));

/** Bind every function, or say plainly that the system's libbpf is too old for tc-top. */
function bindAll<T>(bind: () => T): T {
  try {
    return bind();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new LibbpfMissingError(`the system's libbpf.so.1 is too old (${why}): install libbpf 1.0 or newer (Debian 12, Ubuntu 22.10 and later ship it)`);
  }
}

// bpf_map_type and bpf_attach_type values used here (UAPI, stable).
export const MapType = { HASH: 1, LRU_HASH: 9, LRU_PERCPU_HASH: 10 } as const;
export const AttachType = { CGROUP_INET_EGRESS: 1, CGROUP_SOCK_OPS: 3, TRACE_ITER: 28, XDP: 37, TCX_INGRESS: 46, TCX_EGRESS: 47 } as const;
export const XdpFlags = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8, REPLACE: 16 } as const;
export const TcAttachPoint = { INGRESS: 1, EGRESS: 2 } as const;

// libbpf's log: kept in a bounded buffer, never printed while a UI may own the terminal.
const LOG_LIMIT = 200;
const logLines: string[] = [];
const logBuf = Buffer.alloc(64 * 1024);
// The print function is one for the whole process (and a callback dies with the thread that
// registered it: tc-top runs libbpf on its main thread only).
f.setPrint(
  koffi.register((level: number, fmt: string, args: Ptr) => {
    const n = f.vsnprintf(logBuf, logBuf.length, fmt, args) as number;
    const text = logBuf.toString('utf8', 0, Math.max(0, Math.min(n, logBuf.length - 1)));
    for (const line of text.split('\n')) if (line) logLines.push(`${level === 0 ? 'warn' : level === 1 ? 'info' : 'debug'}: ${line}`);
    if (logLines.length > LOG_LIMIT) logLines.splice(0, logLines.length - LOG_LIMIT);
    return 0;
  }, koffi.pointer(PrintFn)),
);

/** The last lines libbpf logged (warnings, the verifier's reasons for a rejection). */
export function libbpfLog(lines = 40): string {
  return logLines.slice(-lines).join('\n');
}

export function libbpfVersion(): string {
  return f.versionString() as string;
}

export function numPossibleCpus(): number {
  return check('libbpf_num_possible_cpus', f.numPossibleCpus() as number);
}

export function closeFd(fd: number): void {
  f.close(fd);
}

/** Interface index of a name in the current network namespace, or 0 when there is none. */
export function ifNameToIndex(name: string): number {
  return f.ifNameToIndex(name) as number;
}

export function ifIndexToName(index: number): string | undefined {
  const buf = Buffer.alloc(16);
  const ret = f.ifIndexToName(index, buf);
  if (ret === null) return undefined;
  return buf.toString('utf8', 0, buf.indexOf(0));
}

/** A BPF object file opened by libbpf; configure maps before load(), then use fds. */
export class BpfObject {
  private obj: Ptr;

  private constructor(obj: Ptr) {
    this.obj = obj;
  }

  static open(path: string): BpfObject {
    return new BpfObject(checkPtr('bpf_object__open_file', f.objectOpenFile(path, null), libbpfLog));
  }

  private map(name: string): Ptr {
    return checkPtr(`bpf_object__find_map_by_name(${name})`, f.findMap(this.obj, name));
  }

  private program(name: string): Ptr {
    return checkPtr(`bpf_object__find_program_by_name(${name})`, f.findProgram(this.obj, name));
  }

  setMapType(name: string, type: number): void {
    check(`bpf_map__set_type(${name})`, f.mapSetType(this.map(name), type) as number);
  }

  setMaxEntries(name: string, max: number): void {
    check(`bpf_map__set_max_entries(${name})`, f.mapSetMaxEntries(this.map(name), max) as number);
  }

  /** Use an existing map (another object's) for this object's map `name`, before load: both objects' programs then share it. */
  reuseMap(name: string, fd: number): void {
    check(`bpf_map__reuse_fd(${name})`, f.mapReuseFd(this.map(name), fd) as number);
  }

  /** Replace the initial contents of a data section map, e.g. '.rodata' for const volatile config. */
  setInitialValue(name: string, data: Buffer): void {
    check(`bpf_map__set_initial_value(${name})`, f.mapSetInitialValue(this.map(name), data, data.length) as number);
  }

  setExpectedAttachType(program: string, type: number): void {
    check(`bpf_program__set_expected_attach_type(${program})`, f.programSetExpectedAttachType(this.program(program), type) as number);
  }

  mapInfo(name: string): { fd: number; keySize: number; valueSize: number; maxEntries: number; type: number } {
    const m = this.map(name);
    return {
      fd: f.mapFd(m) as number,
      keySize: f.mapKeySize(m) as number,
      valueSize: f.mapValueSize(m) as number,
      maxEntries: f.mapMaxEntries(m) as number,
      type: f.mapType(m) as number,
    };
  }

  /** The attach type libbpf gave the program from its section name (cgroup/connect4, sockops, ...). */
  expectedAttachType(program: string): number {
    return f.programExpectedAttachType(this.program(program)) as number;
  }

  /** Leave a program out of the load (one the kernel refused when loaded alone, or a variant it cannot take). */
  setAutoload(program: string, autoload: boolean): void {
    check(`bpf_program__set_autoload(${program})`, f.programSetAutoload(this.program(program), autoload) as number);
  }

  programFd(name: string): number {
    return check(`bpf_program__fd(${name})`, f.programFd(this.program(name)) as number);
  }

  /**
   * Attach a tracing program where its section says (tp_btf/...): a BPF link, which the kernel
   * releases if the process dies. Returns the function that detaches it.
   */
  attach(program: string): () => void {
    let link: Ptr = checkPtr(`bpf_program__attach(${program})`, f.programAttach(this.program(program)), libbpfLog);
    return () => {
      if (link !== null) f.linkDestroy(link);
      link = null;
    };
  }

  load(): void {
    const start = logLines.length;
    const ret = f.objectLoad(this.obj) as number;
    if (ret < 0) {
      const errno = -ret;
      const log = logLines.slice(Math.max(0, Math.min(start, logLines.length - 60))).join('\n');
      throw new BpfError('bpf_object__load', errno, errno === 1 || errno === 13 ? 'run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON' : 'the kernel rejected the program; see the log', log);
    }
  }

  close(): void {
    if (this.obj !== null) f.objectClose(this.obj);
    this.obj = null;
  }
}

/** Memory shared with the kernel: a BPF_F_MMAPABLE map mapped read-write. Use `bytes` until unmap(). */
export interface SharedMapping {
  readonly bytes: ArrayBuffer;
  unmap(): void;
}

/** mmap(2) a BPF_F_MMAPABLE array map whole (its length rounded up to pages, as the kernel wants). */
export function mapMmap(fd: number, length: number, what = 'the flow slots'): SharedMapping {
  const PROT_READ = 1;
  const PROT_WRITE = 2;
  const MAP_SHARED = 1;
  const size = Math.ceil(length / 4096) * 4096;
  const ptr = f.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ptr === null || koffi.address(ptr) === 0xffffffffffffffffn) {
    throw new BpfError(`mmap of ${what}`, koffi.errno(), 'this kernel cannot map BPF arrays (5.5 and later can): run with --map lru');
  }
  let mapped = true;
  return {
    bytes: koffi.view(ptr, size),
    unmap() {
      if (mapped) f.munmap(ptr, size);
      mapped = false;
    },
  };
}

/** bpf_link_create: returns the link fd; closing it detaches. flags: XDP mode flags for BPF_XDP. */
export function linkCreate(progFd: number, ifindex: number, attachType: number, flags = 0): number {
  const opts = { sz: koffi.sizeof(LinkCreateOpts), flags };
  return check('bpf_link_create', f.linkCreate(progFd, ifindex, attachType, flags ? opts : null) as number);
}

/** bpf_iter_create: an fd whose reads run the iterator link's program over its objects. */
export function iterCreate(linkFd: number): number {
  return check('bpf_iter_create', f.iterCreate(linkFd) as number);
}

/** Netlink XDP attach (kernels without XDP links); refuses to replace an existing program. */
export function xdpAttach(ifindex: number, progFd: number, modeFlags: number): void {
  check('bpf_xdp_attach', f.xdpAttach(ifindex, progFd, modeFlags | XdpFlags.UPDATE_IF_NOEXIST, null) as number);
}

/** Detach our netlink-attached XDP program only if it is still the one attached. */
export function xdpDetach(ifindex: number, progFd: number, modeFlags: number): void {
  const opts = { sz: koffi.sizeof(XdpAttachOpts), old_prog_fd: progFd };
  check('bpf_xdp_detach', f.xdpDetach(ifindex, modeFlags | XdpFlags.REPLACE, opts) as number);
}

export interface XdpQuery {
  readonly progId: number;
  readonly drvProgId: number;
  readonly skbProgId: number;
  readonly hwProgId: number;
  readonly attachMode: number;
}

export function xdpQuery(ifindex: number): XdpQuery {
  const opts = { sz: koffi.sizeof(XdpQueryOpts), prog_id: 0, drv_prog_id: 0, hw_prog_id: 0, skb_prog_id: 0, attach_mode: 0 };
  check('bpf_xdp_query', f.xdpQuery(ifindex, 0, opts) as number);
  return {
    progId: opts.prog_id,
    drvProgId: opts.drv_prog_id,
    skbProgId: opts.skb_prog_id,
    hwProgId: opts.hw_prog_id,
    attachMode: opts.attach_mode,
  };
}

function tcHook(ifindex: number, attachPoint: number) {
  return { sz: koffi.sizeof(TcHook), ifindex, attach_point: attachPoint, parent: 0 };
}

/** Create the clsact qdisc. Returns false when one already existed (then it is not ours). */
export function tcHookCreate(ifindex: number, attachPoint: number): boolean {
  const ret = f.tcHookCreate(tcHook(ifindex, attachPoint)) as number;
  if (ret === -17) return false; /* EEXIST */
  check('bpf_tc_hook_create', ret);
  return true;
}

/** Destroy the clsact qdisc (both directions): only for one tc-top created itself. */
export function tcHookDestroy(ifindex: number): void {
  check('bpf_tc_hook_destroy', f.tcHookDestroy(tcHook(ifindex, TcAttachPoint.INGRESS | TcAttachPoint.EGRESS)) as number);
}

/**
 * Attach a cls_bpf filter in direct-action mode at handle/priority (0: the kernel chooses). Never
 * replaces a filter: an occupied handle/priority fails with EEXIST.
 */
export function tcAttach(ifindex: number, attachPoint: number, progFd: number, handle = 0, priority = 0): { handle: number; priority: number; progId: number } {
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: progFd, flags: 0, prog_id: 0, handle, priority };
  check('bpf_tc_attach', f.tcAttach(tcHook(ifindex, attachPoint), opts) as number);
  return { handle: opts.handle, priority: opts.priority, progId: opts.prog_id };
}

export function tcDetach(ifindex: number, attachPoint: number, handle: number, priority: number): void {
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle, priority };
  check('bpf_tc_detach', f.tcDetach(tcHook(ifindex, attachPoint), opts) as number);
}

/** The program id of the filter at handle/priority, or undefined when there is none (or no clsact). */
export function tcQuery(ifindex: number, attachPoint: number, handle: number, priority: number): number | undefined {
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle, priority };
  const ret = f.tcQuery(tcHook(ifindex, attachPoint), opts) as number;
  if (ret === -2 || ret === -22) return undefined; /* ENOENT: no such filter; EINVAL: no clsact qdisc */
  check('bpf_tc_query', ret);
  return opts.prog_id;
}

/**
 * Ids of the programs attached to an interface's tcx hook (attachType TCX_INGRESS/EGRESS), in
 * order; [] where the kernel has no tcx (EINVAL) or nothing is attached.
 */
export function tcxProgramIds(ifindex: number, attachType: number): number[] {
  const ids = Buffer.alloc(4 * 64);
  const opts = { sz: koffi.sizeof(ProgQueryOpts), query_flags: 0, attach_flags: 0, prog_ids: ids, prog_cnt: 64, prog_attach_flags: null };
  const ret = f.progQuery(ifindex, attachType, opts) as number;
  if (ret === -22 || ret === -2) return []; /* EINVAL: no tcx here; ENOENT: nothing attached */
  check('bpf_prog_query_opts', ret);
  return Array.from({ length: opts.prog_cnt }, (_, i) => ids.readUInt32LE(i * 4));
}

/** A new fd for a loaded program by id (close it with closeFd). */
export function progFdById(id: number): number {
  return check(`bpf_prog_get_fd_by_id(${id})`, f.progGetFdById(id) as number);
}

/** Name of a loaded BPF program by id (bpf_prog_info.name), or undefined if it is gone. */
export function progName(id: number): string | undefined {
  const fd = f.progGetFdById(id) as number;
  if (fd < 0) return undefined;
  try {
    const info = Buffer.alloc(256);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(info.length);
    if ((f.objGetInfoByFd(fd, info, len) as number) < 0) return undefined;
    const name = info.subarray(64, 80); /* bpf_prog_info.name[16] */
    const end = name.indexOf(0);
    return name.toString('utf8', 0, end < 0 ? 16 : end);
  } finally {
    f.close(fd);
  }
}

/**
 * One bpf_map_lookup_batch call. Returns the number of entries written and whether the map is
 * exhausted. Throws EINVAL/EOPNOTSUPP-style errors for the caller's fallback to iteration.
 */
export function mapLookupBatch(
  fd: number,
  inBatch: Buffer | null,
  outBatch: Buffer,
  keys: Buffer,
  values: Buffer,
  count: number,
): { count: number; done: boolean } {
  const countBuf = Buffer.alloc(4);
  countBuf.writeUInt32LE(count);
  const ret = f.mapLookupBatch(fd, inBatch, outBatch, keys, values, countBuf, null) as number;
  const got = countBuf.readUInt32LE();
  if (ret === -2) return { count: got, done: true }; /* ENOENT: the last batch */
  check('bpf_map_lookup_batch', ret);
  return { count: got, done: false };
}

export function mapLookupElem(fd: number, key: Buffer, value: Buffer): boolean {
  const ret = f.mapLookupElem(fd, key, value) as number;
  if (ret === -2) return false;
  check('bpf_map_lookup_elem', ret);
  return true;
}

export function mapUpdateElem(fd: number, key: Buffer, value: Buffer, flags = 0): void {
  check('bpf_map_update_elem', f.mapUpdateElem(fd, key, value, flags) as number);
}

/** Returns false when the key was not there (already evicted). */
export function mapDeleteElem(fd: number, key: Buffer): boolean {
  const ret = f.mapDeleteElem(fd, key) as number;
  if (ret === -2) return false;
  check('bpf_map_delete_elem', ret);
  return true;
}

/** Writes the key after `key` (or the first key when key is null) into next; false at the end. */
export function mapGetNextKey(fd: number, key: Buffer | null, next: Buffer): boolean {
  const ret = f.mapGetNextKey(fd, key, next) as number;
  if (ret === -2) return false;
  check('bpf_map_get_next_key', ret);
  return true;
}

export interface TestRunResult {
  readonly retval: number;
  readonly durationNs: number;
}

/** BPF_PROG_TEST_RUN: run a program on one packet (and optional context) `repeat` times. */
export function progTestRun(progFd: number, data: Buffer, repeat = 1, ctx?: Buffer): TestRunResult {
  const opts = {
    sz: koffi.sizeof(TestRunOpts),
    data_in: data,
    data_out: null,
    data_size_in: data.length,
    data_size_out: 0,
    ctx_in: ctx ?? null,
    ctx_out: null,
    ctx_size_in: ctx?.length ?? 0,
    ctx_size_out: 0,
    retval: 0,
    repeat,
    duration: 0,
    flags: 0,
    cpu: 0,
    batch_size: 0,
  };
  check('bpf_prog_test_run_opts', f.progTestRun(progFd, opts) as number, libbpfLog);
  return { retval: opts.retval | 0, durationNs: opts.duration };
}

/**
 * BPF_PROG_TEST_RUN for a stream of frames (tc-top -r): frames and their contexts are written into
 * native memory that this process owns (`bytes`), and each run points the one options struct at
 * them, so that a run costs one call and no marshalling. Free it with free().
 */
/** Members of bpf_test_run_opts that FrameRunner writes, as 32-bit word indexes. */
const RunOpt = {
  dataIn: koffi.offsetof(TestRunOpts, 'data_in') / 4,
  dataSizeIn: koffi.offsetof(TestRunOpts, 'data_size_in') / 4,
  dataSizeOut: koffi.offsetof(TestRunOpts, 'data_size_out') / 4,
  ctxIn: koffi.offsetof(TestRunOpts, 'ctx_in') / 4,
  ctxSizeIn: koffi.offsetof(TestRunOpts, 'ctx_size_in') / 4,
  ctxSizeOut: koffi.offsetof(TestRunOpts, 'ctx_size_out') / 4,
  retval: koffi.offsetof(TestRunOpts, 'retval') / 4,
} as const;

export class FrameRunner {
  /** The native block, as a Buffer: write frames and contexts here, then run() them by offset. */
  readonly bytes: Buffer;
  private readonly block: Ptr;
  /** The block's address (below 2^53: a Number, so that no run makes a BigInt). */
  private readonly base: number;
  /** The options, as 32-bit words. */
  private readonly opts: Uint32Array;
  private readonly optsPtr: Ptr;
  /** What the options point at now (-1: nothing yet). */
  private dataAt = -1;
  private ctxAt = -1;
  private freed = false;

  constructor(size: number) {
    const optsSize = koffi.sizeof(TestRunOpts);
    this.block = koffi.alloc('uint8_t', size);
    this.optsPtr = koffi.alloc('uint8_t', optsSize);
    this.bytes = Buffer.from(koffi.view(this.block, size));
    const opts = Buffer.from(koffi.view(this.optsPtr, optsSize));
    opts.fill(0);
    opts.writeBigUInt64LE(BigInt(optsSize), 0);
    opts.writeInt32LE(1, koffi.offsetof(TestRunOpts, 'repeat'));
    this.opts = new Uint32Array(opts.buffer, opts.byteOffset, optsSize / 4);
    this.base = Number(koffi.address(this.block) as bigint);
  }

  /** Run the program on the frame at [dataAt, dataAt + dataLen) with the context at [ctxAt, ctxAt + ctxLen) (ctxLen 0: none); returns its verdict. */
  run(progFd: number, dataAt: number, dataLen: number, ctxAt: number, ctxLen: number): number {
    const o = this.opts;
    if (dataAt !== this.dataAt) {
      this.dataAt = dataAt;
      this.pointAt(RunOpt.dataIn, this.base + dataAt);
    }
    const ctx = ctxLen > 0 ? ctxAt : -1;
    if (ctx !== this.ctxAt) {
      this.ctxAt = ctx;
      this.pointAt(RunOpt.ctxIn, ctx < 0 ? 0 : this.base + ctx);
    }
    o[RunOpt.dataSizeIn] = dataLen;
    o[RunOpt.ctxSizeIn] = ctxLen;
    // libbpf writes the sizes the kernel reports back into the options: a data_size_out left from
    // a smaller frame would make the next run fail with ENOSPC.
    o[RunOpt.dataSizeOut] = 0;
    o[RunOpt.ctxSizeOut] = 0;
    const ret = f.progTestRunRaw(progFd, this.optsPtr) as number;
    if (ret < 0) check('bpf_prog_test_run_opts', ret, libbpfLog);
    return o[RunOpt.retval]! | 0;
  }

  /** A pointer member of the options (little-endian: the low word first). */
  private pointAt(word: number, address: number): void {
    this.opts[word] = address % 4294967296;
    this.opts[word + 1] = Math.floor(address / 4294967296);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.block);
    koffi.free(this.optsPtr);
  }
}
