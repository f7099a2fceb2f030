/**
 * The collector of `tc-top -r FILE`: every frame of a capture runs through tc-top's own program
 * (the replay build, bpf/tc_top_replay.bpf.o) with BPF_PROG_TEST_RUN, into the same maps the live
 * programs fill, and each read is a snapshot at a time of the capture. The run loop moves the
 * capture's clock (clock.advanceTo) instead of sleeping. Nothing is attached to any interface.
 *
 * What a frame counts as:
 * - TC (default): a frame the capture marks outgoing (pcapng's epb_flags, SLL's packet type 4) runs
 *   through the egress program, every other one through the ingress program. XDP (--hook xdp):
 *   every frame through the XDP program, ingress.
 * - bytes: the frame's length on the wire as an Ethernet frame (the original length, also when the
 *   capture cut the frame); Linux cooked captures (SLL, SLL2) of Ethernet-like devices get a 14-byte
 *   Ethernet header in place of theirs, and count as their Ethernet frame; raw IP, and cooked
 *   captures of devices without an Ethernet header (tun, ...), get a header to be parsed but count
 *   the IP packet's length only. Packets: one per frame (a capture holds no gso_segs).
 * - The program is given the first FRAME_MAX bytes of a frame (a test run takes at most a page):
 *   more than the headers any frame has that the parser can read.
 * - The kernel's skb test runner refuses a frame whose IPv4 or IPv6 header is cut inside its fixed
 *   part (EINVAL); the TC program counts such a frame as malformed on a real link, so it is counted
 *   here as malformed too, in userspace, and added to the snapshots' counters.
 *
 * With more than one CPU the frames run on replay lanes, a worker thread per CPU (replay-lanes.ts):
 * a test run costs the kernel microseconds on the calling CPU, more than reading the frame does. The
 * frames of a connection share a lane and keep their order; every frame before a snapshot's time has
 * run when the snapshot is read.
 */
import { closeSync, fstatSync, openSync, read as readCb } from 'node:fs';
import { basename } from 'node:path';
import type { Snapshot } from '../model/types.js';
import { CaptureError, CaptureReader, FrameDir, LinkType, type ByteSource } from './capture-file.js';
import type { Collector, CollectorClock } from './collector.js';
import { ethernetLane, ipLane } from './flow-lane.js';
import type { HookInfo } from './hooks.js';
import { KernelCollector, type MapKind } from './kernel-collector.js';
import { ReplayLanes, defaultLanes } from './replay-lanes.js';
import { ETH_HLEN, FRAME_AT, FRAME_MAX, type Refused, ReplayRunner, SHORT_FRAME } from './replay-runner.js';

export { CaptureError, FRAME_MAX };

/** Where frame times start on the snapshots' clock: an hour in, so that frames stamped before the first still fit. */
const CLOCK_START_NS = 3600e9;
/** The test runs' interface: with no interface given, the kernel runs them on the loopback device. */
const LOOPBACK_IFINDEX = 1;
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
  /** Replay lanes (worker threads) to run the frames on; 0: on the main thread. Default: one per CPU, none with one. */
  readonly lanes?: number;
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
  /** Where the frames run: on this thread (runner) or on lanes. */
  private readonly runner: ReplayRunner | undefined;
  private readonly lanes: ReplayLanes | undefined;
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
   * The pending frame as the program is given it (set by shape()): the bytes copied after a made-up
   * Ethernet header start at l3, of the given ethertype (-1: an Ethernet frame, copied whole); its
   * length as given (len) and counted (wire); the TC program it runs through.
   */
  private l3 = 0;
  private ethertype = -1;
  private len = 0;
  private wire = 0;
  private egress = false;
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
    // The lanes' threads start before the programs load, which takes longer than their start.
    const lanes = opts.lanes ?? defaultLanes();
    this.lanes = lanes > 0 ? new ReplayLanes(lanes) : undefined;
    try {
      this.kernel = KernelCollector.start({
        interfaces: [],
        hook: opts.hook,
        xdpMode: 'auto',
        map: opts.map,
        maxFlows: opts.maxFlows,
        attach: false,
        handshakes: opts.handshakes ?? true,
        object: 'replay',
        // The egress program runs outgoing frames only, which a capture without directions has none of.
        programs: this.xdp ? ['xdp'] : reader.directed ? ['tcIngress', 'tcEgress'] : ['tcIngress'],
        interfaceNames: new Map([[LOOPBACK_IFINDEX, this.name]]),
      });
    } catch (err) {
      this.lanes?.close();
      throw err;
    }
    const progIn = this.kernel.programFd(this.xdp ? 'xdp' : 'tcIngress');
    const progOut = this.xdp ? progIn : reader.directed ? this.kernel.programFd('tcEgress') : -1;
    if (this.lanes) this.lanes.programs(progIn, progOut, this.xdp);
    else this.runner = new ReplayRunner(progIn, progOut, this.xdp);
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
      else if (!this.lanes) this.runHere();
      else if (!this.toLane(this.lanes) && !(await this.toFullLane(this.lanes))) return false;
      this.pending = false;
      if (++n % YIELD_EVERY === 0) {
        this.lanes?.publish();
        await new Promise((r) => setImmediate(r));
      }
    }
    // Every frame before ns has run before a read at ns.
    await this.lanes?.drain();
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
      this.l3 = l3;
      this.ethertype = proto;
      this.len = Math.min(ETH_HLEN + l3Cap, FRAME_MAX);
      this.wire = ethernetLike ? ETH_HLEN + l3Wire : l3Wire;
    }
    this.egress = dir === FrameDir.Out;
    return this.len >= ETH_HLEN;
  }

  /** Writes the pending frame as the program is given it, an Ethernet frame of len bytes, at out[at] (out as words: into). */
  private writeFrame(out: Buffer, into: Int32Array, at: number): void {
    const r = this.reader;
    if (this.ethertype < 0) {
      if (this.srcBuf !== r.buf) {
        this.srcBuf = r.buf;
        // (A buffer that does not start on a word, which the reader's never does, is copied bytewise.)
        this.srcWords = r.buf.byteOffset % 4 === 0 ? new Int32Array(r.buf.buffer, r.buf.byteOffset, r.buf.length >> 2) : new Int32Array(0);
      }
      if (this.len > SHORT_FRAME || !copyToWords(this.srcWords, r.offset, into, at, this.len)) r.buf.copy(out, at, r.offset, r.offset + this.len);
      return;
    }
    out.fill(0, at, at + 12);
    out.writeUInt16BE(this.ethertype, at + 12);
    r.buf.copy(out, at + ETH_HLEN, this.l3, this.l3 + this.len - ETH_HLEN);
  }

  /** Runs the pending frame on this thread. */
  private runHere(): void {
    const runner = this.runner!;
    this.writeFrame(runner.bytes, runner.words, FRAME_AT);
    runner.run(this.len, this.wire, this.frameNs(), this.egress);
  }

  /** The pending frame's lane: its flow's, read from the bytes the program is given. */
  private laneOf(lanes: number): number {
    const r = this.reader;
    if (this.ethertype < 0) return ethernetLane(r.buf, r.offset, r.offset + this.len, lanes);
    return ipLane(r.buf, this.l3, this.l3 + this.len - ETH_HLEN, this.ethertype, lanes);
  }

  /** Hands the pending frame to its lane once it has room; false when the collector closed meanwhile. */
  private async toFullLane(lanes: ReplayLanes): Promise<boolean> {
    do {
      await lanes.room(this.laneOf(lanes.count));
      if (this.closed) return false;
    } while (!this.toLane(lanes));
    return true;
  }

  /**
   * Hands the pending frame to its lane; false when the lane is full. (The frame's time is read
   * here, not passed in: a time passed to a call that is not inlined is boxed, garbage per frame.)
   */
  private toLane(lanes: ReplayLanes): boolean {
    const lane = this.laneOf(lanes.count);
    const at = lanes.reserve(lane, this.len);
    if (at < 0) return false;
    this.writeFrame(lanes.bytes(lane), lanes.words(lane), at);
    lanes.commit(lane, this.len, this.wire, this.frameNs(), this.egress);
    return true;
  }

  // The collector.

  read(): Snapshot {
    const snap = this.kernel.read();
    const first = this.reader.firstWallMs ?? Date.now();
    const c = snap.counters;
    const r = this.refused();
    const counters = {
      ...c,
      packetsIn: c.packetsIn + r.packetsIn,
      packetsOut: c.packetsOut + r.packetsOut,
      bytesIn: c.bytesIn + r.bytesIn,
      bytesOut: c.bytesOut + r.bytesOut,
      malformed: c.malformed + r.packetsIn + r.packetsOut,
      malformedBytes: c.malformedBytes + r.bytesIn + r.bytesOut,
    };
    return { ...snap, counters, monoNs: this.now, wallMs: first + (this.now - CLOCK_START_NS) / 1e6 };
  }

  /** Frames the skb test runner refused, wherever they ran. */
  private refused(): Refused {
    return this.runner?.refused ?? this.lanes!.refused();
  }

  deleteFlows(keys: readonly string[]): number {
    return this.kernel.deleteFlows(keys);
  }

  close(): string[] {
    if (this.closed) return [];
    this.closed = true;
    // No lane runs a frame when the programs close.
    this.lanes?.close();
    this.kernel.close();
    this.runner?.free();
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
