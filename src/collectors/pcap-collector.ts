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
 */
import { closeSync, fstatSync, openSync, read as readCb } from 'node:fs';
import { basename } from 'node:path';
import { BpfError } from '../ffi/errors.js';
import { FrameRunner } from '../ffi/libbpf.js';
import { Replay } from '../ffi/layout.js';
import type { Snapshot } from '../model/types.js';
import { CaptureError, CaptureReader, FrameDir, LinkType, type ByteSource } from './capture-file.js';
import type { Collector, CollectorClock } from './collector.js';
import type { HookInfo } from './hooks.js';
import { KernelCollector, type MapKind } from './kernel-collector.js';

export { CaptureError };

/** Bytes of a frame given to a test run (a page less the kernel's head- and tailroom, less the XDP metadata). */
export const FRAME_MAX = 3440;
/** Where frame times start on the snapshots' clock: an hour in, so that frames stamped before the first still fit. */
const CLOCK_START_NS = 3600e9;
/** The test runs' interface: with no interface given, the kernel runs them on the loopback device. */
const LOOPBACK_IFINDEX = 1;
/** Frames between two yields to the event loop (signals, the TUI, the progress bar). */
const YIELD_EVERY = 4096;

const ETH_HLEN = 14;
const CTX_AT = 0;
const DATA_AT = 256;

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
  private readonly runner: FrameRunner;
  private readonly progIn: number;
  private readonly progOut: number;
  private readonly xdp: boolean;
  private readonly totalBytes: number | undefined;
  /** The snapshots' time: the capture's clock, ns. */
  private now = CLOCK_START_NS;
  /** A frame read but not yet run (its time is past the last advanceTo). */
  private pending = false;
  private ended = false;
  private failure: Error | undefined;
  private short = 0;
  /** Frames the skb test runner refused (malformed), per direction: packets and bytes. */
  private readonly refused = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
  private closed = false;

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
    this.runner = new FrameRunner(DATA_AT + Replay.metaSize + FRAME_MAX);
    this.runner.bytes.fill(0, 0, DATA_AT + Replay.metaSize + ETH_HLEN);
    this.progIn = this.kernel.programFd(this.xdp ? 'xdp' : 'tcIngress');
    this.progOut = this.kernel.programFd(this.xdp ? 'xdp' : 'tcEgress');
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
    while (await this.peek()) {
      const t = this.frameNs();
      if (t >= ns) {
        this.now = Math.max(this.now, ns);
        return true;
      }
      this.run();
      this.pending = false;
      if (t > this.now) this.now = t;
      if (++n % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
    }
    return false;
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
      if (!(err instanceof CaptureError)) throw err;
      this.failure = err;
      this.finish();
      return false;
    }
    this.pending = true;
    return true;
  }

  private finish(): void {
    this.ended = true;
    if (this.short > 0) this.notices.push(`${this.short} frame${this.short === 1 ? '' : 's'} shorter than an Ethernet header (14 bytes) were not counted: no hook is given such a frame`);
  }

  private frameNs(): number {
    return CLOCK_START_NS + this.reader.timeNs;
  }

  /** Runs the pending frame through the program its direction picks. */
  private run(): void {
    const r = this.reader;
    const out = this.runner.bytes;
    // The frame as an Ethernet frame at DATA_AT + metaSize, and the length it counts as.
    const frameAt = DATA_AT + Replay.metaSize;
    let len: number;
    let wire: number;
    let dir = r.dir;
    if (r.linkType === LinkType.ETHERNET) {
      len = Math.min(r.capLen, FRAME_MAX);
      r.buf.copy(out, frameAt, r.offset, r.offset + len);
      wire = r.origLen;
    } else {
      let l3 = r.offset;
      let proto = 0;
      let ethernetLike = false;
      if (r.linkType === LinkType.LINUX_SLL || r.linkType === LinkType.LINUX_SLL2) {
        const sll2 = r.linkType === LinkType.LINUX_SLL2;
        const hdr = sll2 ? 20 : 16;
        if (r.capLen < hdr) return this.tooShort();
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
      len = Math.min(ETH_HLEN + l3Cap, FRAME_MAX);
      out.fill(0, frameAt, frameAt + 12);
      out.writeUInt16BE(proto, frameAt + 12);
      r.buf.copy(out, frameAt + ETH_HLEN, l3, l3 + len - ETH_HLEN);
      wire = ethernetLike ? ETH_HLEN + l3Wire : l3Wire;
    }
    if (len < ETH_HLEN) return this.tooShort();
    const t = this.frameNs();
    if (this.xdp) {
      // struct tc_top_replay_meta before the frame; the context says how long it is.
      const meta = DATA_AT;
      out.writeUInt32LE(t % 4294967296, meta + Replay.metaTimeNs);
      out.writeUInt32LE(Math.floor(t / 4294967296), meta + Replay.metaTimeNs + 4);
      out.writeUInt32LE(wire, meta + Replay.metaLen);
      out.writeUInt32LE(Replay.metaSize, CTX_AT);
      out.writeUInt32LE(Replay.metaSize + len, CTX_AT + 4);
      this.runner.run(this.progIn, meta, Replay.metaSize + len, CTX_AT, Replay.xdpCtxSize);
    } else {
      out.writeUInt32LE(t % 4294967296, CTX_AT + Replay.skbCb);
      out.writeUInt32LE(Math.floor(t / 4294967296), CTX_AT + Replay.skbCb + 4);
      out.writeUInt32LE(wire, CTX_AT + Replay.skbCb + 8);
      const egress = dir === FrameDir.Out;
      try {
        this.runner.run(egress ? this.progOut : this.progIn, frameAt, len, CTX_AT, Replay.skbCtxSize);
      } catch (err) {
        if (!(err instanceof BpfError && err.errno === 22)) throw err;
        if (egress) {
          this.refused.packetsOut++;
          this.refused.bytesOut += wire;
        } else {
          this.refused.packetsIn++;
          this.refused.bytesIn += wire;
        }
      }
    }
  }

  private tooShort(): void {
    this.short++;
  }

  // The collector.

  read(): Snapshot {
    const snap = this.kernel.read();
    const first = this.reader.firstWallMs ?? Date.now();
    const c = snap.counters;
    const r = this.refused;
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

  deleteFlows(keys: readonly string[]): number {
    return this.kernel.deleteFlows(keys);
  }

  close(): string[] {
    if (this.closed) return [];
    this.closed = true;
    this.kernel.close();
    this.runner.free();
    if (this.fd !== 0) closeSync(this.fd);
    return [];
  }
}
