/**
 * The collector of `tc-top -r FILE`: every frame of a capture runs through tc-top's own program
 * (the replay build, bpf/tc_top_replay.bpf.o) with BPF_PROG_TEST_RUN, into the same maps the live
 * programs fill, and each read is a snapshot at a time of the capture. The run loop moves the
 * capture's clock (clock.advanceTo) instead of sleeping. Nothing is attached to any interface.
 *
 * What a frame counts as:
 * - TC (default): a frame the capture marks outgoing (pcapng's epb_flags, SLL's packet type 4) is
 *   counted as the TC egress program counts it, every other one as TC ingress. XDP (--hook xdp):
 *   every frame as the XDP program counts it, ingress.
 * - bytes: the frame's length on the wire as an Ethernet frame (the original length, also when the
 *   capture cut the frame); Linux cooked captures (SLL, SLL2) of Ethernet-like devices get a 14-byte
 *   Ethernet header in place of theirs, and count as their Ethernet frame; raw IP, and cooked
 *   captures of devices without an Ethernet header (tun, ...), get a header to be parsed but count
 *   the IP packet's length only. Packets: one per frame (a capture holds no gso_segs).
 * - The program is given the first FRAME_MAX bytes of a frame (a test run takes at most a page):
 *   more than the headers any frame has that the parser can read.
 *
 * The frames run in batches (replay-batch.ts: as many as fit in a page, at most 64, in file order), by the replay
 * build's one program, which counts each frame with the counter programs' own parse and count code,
 * as the TC programs (each frame in its direction) or the XDP program (all in) count it. A batch is
 * run before each snapshot, so a snapshot sees every frame before its time and none after.
 */
import { closeSync, fstatSync, openSync, read as readCb } from 'node:fs';
import { basename } from 'node:path';
import type { Snapshot } from '../model/types.js';
import { CaptureError, CaptureReader, FrameDir, LinkType, type ByteSource } from './capture-file.js';
import type { Collector, CollectorClock } from './collector.js';
import type { HookInfo } from './hooks.js';
import { KernelCollector, type MapKind } from './kernel-collector.js';
import { Batch } from '../ffi/layout.js';
import { ETH_HLEN, FRAME_MAX, ReplayBatch, type WriteWhole } from './replay-batch.js';

export { CaptureError, FRAME_MAX };

/** Where frame times start on the snapshots' clock: an hour in, so that frames stamped before the first still fit. */
const CLOCK_START_NS = 3600e9;
/** The test runs' interface: with no interface given, the kernel runs them on the loopback device. */
const LOOPBACK_IFINDEX = 1;
/**
 * Up to this many bytes a frame is copied as 32-bit words: a Buffer copy costs about 60 ns to set
 * up (and allocates a view), a word 1 to 2 ns.
 */
const SHORT_FRAME = 256;
/** Frames between two yields to the event loop (signals, the TUI, the progress bar). */
const YIELD_EVERY = 4096;

export interface PcapCollectorOptions {
  /** A file name, or '-' for standard input. */
  readonly path: string;
  readonly hook: 'tc' | 'xdp';
  readonly map: MapKind;
  readonly maxFlows: number;
  /** Time TCP handshakes (each flow's RTT as the capture saw it); off with --no-tcp-stats. */
  readonly handshakes?: boolean;
}

export interface CaptureProgress {
  readonly bytesRead: number;
  /** The file's size; undefined for a pipe. */
  readonly totalBytes: number | undefined;
  readonly frames: number;
}

export class PcapCollector implements Collector, CollectorClock {
  readonly hooks: readonly HookInfo[];
  readonly notices: string[] = [];
  readonly maxFlows: number;
  readonly mapKind: MapKind;
  /** The capture's name, as the views show it in place of an interface. */
  readonly name: string;
  readonly clock: CollectorClock = this;
  private readonly kernel: KernelCollector;
  private readonly batch: ReplayBatch;
  private readonly xdp: boolean;
  private readonly totalBytes: number | undefined;
  /** The snapshots' time: the capture's clock, ns. */
  private now = CLOCK_START_NS;
  private readonly latest = new Float64Array(1);
  /** A frame read but not yet run (its time is past the last advanceTo). */
  private pending = false;
  private ended = false;
  private failure: Error | undefined;
  private short = 0;
  private closed = false;
  /**
   * The pending frame as the program is given it (set by shape()): its bytes in the reader's buffer
   * start at `from`, an Ethernet frame (ethertype -1) or the bytes after a made-up Ethernet header
   * of the given ethertype; its length as given (len) and counted (wire); its direction.
   */
  private from = 0;
  private ethertype = -1;
  private len = 0;
  private wire = 0;
  private egress = false;
  /** Where each frame of the batch came from (as `from` and `ethertype` above), for a frame that must run whole. */
  private readonly srcFrom = new Int32Array(Batch.max);
  private readonly srcType = new Int32Array(Batch.max);
  private readonly writeWhole: WriteWhole = (i, out, into, at, len) => this.writeFrame(out, into, at, this.srcFrom[i]!, this.srcType[i]!, len);
  /** The reader's buffer as 32-bit words (for copyToWords), made again when the reader grows it. */
  private srcBuf: Buffer | undefined;
  private srcWords: Int32Array = new Int32Array(0);

  private constructor(
    opts: PcapCollectorOptions,
    private readonly reader: CaptureReader,
    private readonly fd: number,
  ) {
    this.name = opts.path === '-' ? 'stdin' : basename(opts.path);
    this.maxFlows = opts.maxFlows;
    this.mapKind = opts.map;
    this.xdp = opts.hook === 'xdp';
    this.totalBytes = fd === 0 ? undefined : fstatSync(fd).isFile() ? fstatSync(fd).size : undefined;
    this.kernel = KernelCollector.start({
      interfaces: [],
      hook: opts.hook,
      xdpMode: 'auto',
      map: opts.map,
      maxFlows: opts.maxFlows,
      attach: false,
      handshakes: opts.handshakes ?? true,
      object: 'replay',
      interfaceNames: new Map([[LOOPBACK_IFINDEX, this.name]]),
    });
    this.batch = new ReplayBatch(this.kernel.programFd('batch'));
    const hook = (dir: 'ingress' | 'egress'): HookInfo => ({ ifname: this.name, ifindex: LOOPBACK_IFINDEX, kind: this.xdp ? 'xdp' : 'tc', dir, mode: 'test-run', link: false });
    this.hooks = this.xdp ? [hook('ingress')] : [hook('ingress'), hook('egress')];
  }

  /** Opens the capture and reads its header; a CaptureError (one line) when it is not one tc-top reads. */
  static async open(opts: PcapCollectorOptions): Promise<PcapCollector> {
    let fd: number;
    try {
      fd = opts.path === '-' ? 0 : openSync(opts.path, 'r');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new CaptureError(`cannot read ${opts.path}: ${e.code ?? e.message}`);
    }
    const source: ByteSource = (buf, at, len) =>
      new Promise((resolve, reject) => readCb(fd, buf, at, len, null, (err, n) => (err ? reject(new CaptureError(`reading ${opts.path}: ${err.code ?? err.message}`)) : resolve(n))));
    const reader = new CaptureReader(source, opts.path === '-' ? 'standard input' : opts.path);
    try {
      await reader.open();
      return new PcapCollector(opts, reader, fd);
    } catch (err) {
      if (fd !== 0) closeSync(fd);
      throw err;
    }
  }

  get progress(): CaptureProgress {
    return { bytesRead: this.reader.bytesRead, totalBytes: this.totalBytes, frames: this.reader.frames };
  }

  // The clock (CollectorClock).

  get nextNs(): number | undefined {
    return this.pending ? this.frameNs() : undefined;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  async start(): Promise<number | undefined> {
    if (!(await this.peek())) return undefined;
    this.now = this.frameNs();
    return this.now;
  }

  async advanceTo(ns: number): Promise<boolean> {
    let n = 0;
    let more: boolean;
    // The latest frame's time, in a typed array: a field or a local kept across awaits would box
    // every frame's time (not a small integer), and that garbage costs a scavenge every few ms.
    const latest = this.latest;
    latest[0] = this.now;
    while ((more = this.buffered() || (await this.peek()))) {
      if (this.closed) return false;
      const t = this.frameNs();
      if (t >= ns) break;
      // Here, so that t is not live across an await (it would be boxed).
      if (t > latest[0]!) latest[0] = t;
      if (!this.shape()) this.short++;
      else this.toBatch();
      this.pending = false;
      if (++n % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
    }
    // Every frame before ns has run before a read at ns.
    this.flush();
    this.now = more ? Math.max(latest[0]!, ns) : latest[0]!;
    return more;
  }

  /** Makes the next frame in the buffer the pending one, without reading the file: false when there is none (then peek()). */
  private buffered(): boolean {
    if (this.pending) return true;
    if (this.ended) return false;
    try {
      this.pending = this.reader.next();
    } catch (err) {
      this.fail(err);
    }
    return this.pending;
  }

  /** Makes the next frame the pending one; false at the end of the capture (or at a truncation, kept in error). */
  private async peek(): Promise<boolean> {
    if (this.pending) return true;
    if (this.ended) return false;
    try {
      while (!this.reader.next()) {
        // The batch's frames are read from the buffer again when one runs whole: run them before it moves.
        this.flush();
        if (!(await this.reader.fill())) {
          this.finish();
          return false;
        }
      }
    } catch (err) {
      this.fail(err);
      return false;
    }
    this.pending = true;
    return true;
  }

  private fail(err: unknown): void {
    if (!(err instanceof CaptureError)) throw err;
    this.failure = err;
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    if (this.short > 0) this.notices.push(`${this.short} frame${this.short === 1 ? '' : 's'} shorter than an Ethernet header (14 bytes) were not counted: no hook is given such a frame`);
  }

  private frameNs(): number {
    return CLOCK_START_NS + this.reader.timeNs;
  }

  /** Reads the pending frame's link layer into l3, ethertype, len, wire and egress; false when it is too short to count. */
  private shape(): boolean {
    const r = this.reader;
    let dir = r.dir;
    if (r.linkType === LinkType.ETHERNET) {
      this.ethertype = -1;
      this.from = r.offset;
      this.len = Math.min(r.capLen, FRAME_MAX);
      this.wire = r.origLen;
    } else {
      let l3 = r.offset;
      let proto = 0;
      let ethernetLike = false;
      if (r.linkType === LinkType.LINUX_SLL || r.linkType === LinkType.LINUX_SLL2) {
        const sll2 = r.linkType === LinkType.LINUX_SLL2;
        const hdr = sll2 ? 20 : 16;
        if (r.capLen < hdr) return false;
        const b = r.buf;
        const o = r.offset;
        const pktType = sll2 ? b[o + 10]! : b.readUInt16BE(o);
        const arphrd = sll2 ? b.readUInt16BE(o + 8) : b.readUInt16BE(o + 2);
        const p = sll2 ? b.readUInt16BE(o) : b.readUInt16BE(o + 14);
        // Below 0x0600 the field is not an ethertype (802.3 lengths, LLC): no IP.
        proto = p >= 0x0600 ? p : 0;
        ethernetLike = arphrd === 1 || arphrd === 772; /* ARPHRD_ETHER, ARPHRD_LOOPBACK */
        if (dir === FrameDir.Unknown) dir = pktType === 4 ? FrameDir.Out : FrameDir.In; /* PACKET_OUTGOING */
        l3 = o + hdr;
      } else {
        const v = r.capLen > 0 ? r.buf[r.offset]! >> 4 : 0;
        proto = r.linkType === LinkType.IPV4 || (r.linkType === LinkType.RAW && v === 4) ? 0x0800 : r.linkType === LinkType.IPV6 || (r.linkType === LinkType.RAW && v === 6) ? 0x86dd : 0;
      }
      const l3Cap = r.capLen - (l3 - r.offset);
      const l3Wire = r.origLen - (l3 - r.offset);
      this.from = l3;
      this.ethertype = proto;
      this.len = Math.min(ETH_HLEN + l3Cap, FRAME_MAX);
      this.wire = ethernetLike ? ETH_HLEN + l3Wire : l3Wire;
    }
    // XDP sees every frame coming in.
    this.egress = !this.xdp && dir === FrameDir.Out;
    return this.len >= ETH_HLEN;
  }

  /**
   * Writes `count` bytes of a frame as the program is given it, an Ethernet frame, at out[at] (out
   * as words: into): its bytes in the reader's buffer from `from`, behind a made-up Ethernet header
   * of `ethertype` unless that is -1.
   */
  private writeFrame(out: Buffer, into: Int32Array, at: number, from: number, ethertype: number, count: number): void {
    const r = this.reader;
    if (ethertype < 0) {
      if (this.srcBuf !== r.buf) {
        this.srcBuf = r.buf;
        // (A buffer that does not start on a word, which the reader's never does, is copied bytewise.)
        this.srcWords = r.buf.byteOffset % 4 === 0 ? new Int32Array(r.buf.buffer, r.buf.byteOffset, r.buf.length >> 2) : new Int32Array(0);
      }
      if (count > SHORT_FRAME || !copyToWords(this.srcWords, from, into, at, count)) r.buf.copy(out, at, from, from + count);
      return;
    }
    out.fill(0, at, at + 12);
    out.writeUInt16BE(ethertype, at + 12);
    r.buf.copy(out, at + ETH_HLEN, from, from + count - ETH_HLEN);
  }

  /** Adds the pending frame to the batch (running the batch first when it is full). */
  private toBatch(): void {
    const b = this.batch;
    const given = ReplayBatch.prefixOf(this.len);
    let at = b.reserve(given);
    if (at < 0) {
      this.flush();
      at = b.reserve(given);
    }
    const i = b.size;
    this.srcFrom[i] = this.from;
    this.srcType[i] = this.ethertype;
    this.writeFrame(b.bytes, b.words, at, this.from, this.ethertype, given);
    const tw = b.commit(given, this.len, this.wire, this.egress);
    const t = this.frameNs();
    b.words[tw] = t % 4294967296;
    b.words[tw + 1] = Math.floor(t / 4294967296);
  }

  /** Runs the batch's frames (while the reader's buffer still holds them); nothing once closed (the batch is freed). */
  private flush(): void {
    if (!this.closed && this.batch.size > 0) this.batch.run(this.writeWhole);
  }

  // The collector.

  read(): Snapshot {
    const snap = this.kernel.read();
    const first = this.reader.firstWallMs ?? Date.now();
    return { ...snap, monoNs: this.now, wallMs: first + (this.now - CLOCK_START_NS) / 1e6 };
  }

  deleteFlows(keys: readonly string[]): number {
    return this.kernel.deleteFlows(keys);
  }

  close(): string[] {
    if (this.closed) return [];
    this.closed = true;
    this.kernel.close();
    this.batch.free();
    if (this.fd !== 0) closeSync(this.fd);
    return [];
  }
}

/**
 * Copies n bytes from byte `from` of src (32-bit words) to dst from byte `at` (a multiple of 4),
 * rounded up to whole words, shifted into place when `from` is not a multiple of 4 (little-endian);
 * false when the last source word lies past src (then copy otherwise). For a short frame this costs
 * less than a Buffer copy, which also allocates a view per call: garbage at every frame.
 */
function copyToWords(src: Int32Array, from: number, dst: Int32Array, at: number, n: number): boolean {
  const words = (n + 3) >> 2;
  const d = at >> 2;
  const s = from >> 2;
  const shift = (from & 3) * 8;
  if (s + words + 1 > src.length) return false;
  if (shift === 0) {
    for (let i = 0; i < words; i++) dst[d + i] = src[s + i]!;
    return true;
  }
  for (let i = 0; i < words; i++) dst[d + i] = (src[s + i]! >>> shift) | (src[s + i + 1]! << (32 - shift));
  return true;
}
