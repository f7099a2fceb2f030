/**
 * A streaming reader of pcap and pcapng captures (tc-top -r): frames come out one at a time from a
 * buffer refilled in chunks, so memory stays bounded whatever the size of the file. No npm library
 * fits: pcap-parser (0.2.1) reads only pcap, pcap-ng-parser (1.0.0) only pcapng, and both emit an
 * object per packet, which costs more than the kernel's work on it.
 *
 * Formats: pcap (microsecond and nanosecond magic, either byte order) and pcapng (sections of either
 * byte order; interface descriptions with if_tsresol and if_tsoffset; enhanced, simple and obsolete
 * packet blocks; epb_flags' direction). Times are nanoseconds relative to the first frame, exact
 * (a Number of ns since the epoch would not be).
 */

/** A capture that cannot be read: the message names the problem (one line). */
export class CaptureError extends Error {
  override readonly name = 'CaptureError';
}

/** Where the bytes come from: fills `buf` from `at` with at most `len` bytes; 0 at the end. */
export type ByteSource = (buf: Buffer, at: number, len: number) => Promise<number>;

/** A frame's direction, where the capture says (pcapng's epb_flags; SLL's packet type). */
export const FrameDir = { Unknown: 0, In: 1, Out: 2 } as const;
export type FrameDir = (typeof FrameDir)[keyof typeof FrameDir];

/** Link types tc-top reads (LINKTYPE_* of the pcap and pcapng specifications). */
export const LinkType = { ETHERNET: 1, RAW: 101, LINUX_SLL: 113, LINUX_SLL2: 276, IPV4: 228, IPV6: 229 } as const;

const LINK_NAMES: Record<number, string> = { 0: 'NULL (BSD loopback)', 105: 'IEEE 802.11', 127: 'IEEE 802.11 radiotap', 12: 'RAW (OpenBSD)', 14: 'RAW (OpenBSD)', 108: 'LOOP (OpenBSD)', 9: 'PPP', 50: 'PPP over HDLC', 192: 'PPI', 195: 'IEEE 802.15.4', 220: 'USB (Linux mmapped)', 249: 'NETLINK', 274: 'nflog' };

export function linkTypeName(t: number): string {
  const known = Object.entries(LinkType).find(([, v]) => v === t);
  return known ? known[0] : (LINK_NAMES[t] ?? `link type ${t}`);
}

function supported(t: number): boolean {
  return Object.values(LinkType).includes(t as never);
}

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const NG_SHB = 0x0a0d0d0a;
const NG_BOM = 0x1a2b3c4d;
const NG_IDB = 1;
const NG_PB = 2;
const NG_SPB = 3;
const NG_EPB = 6;
/** A block or record larger than this is taken for corruption, not read into memory. */
const MAX_RECORD = 64 * 1024 * 1024;

interface NgInterface {
  readonly linkType: number;
  readonly snaplen: number;
  /** Timestamp units per second, and ns per unit (fractional for units finer than 1 ns). */
  readonly unitsPerS: number;
  readonly nsPerUnit: number;
  /** if_tsoffset, seconds added to every timestamp. */
  readonly offsetS: number;
  /** The first timestamp seen on this interface (high and low 32 bits), and its time on the capture's clock. */
  baseHi: number;
  baseLo: number;
  baseNs: number;
}

/**
 * The frames of one capture, in file order. Use: `await open()`, then repeatedly `next()` (a frame
 * from the buffer, synchronously) and, when it returns false, `await fill()` (false at the end).
 * The current frame's fields are valid until the next call.
 */
export class CaptureReader {
  /** 'pcap' or 'pcapng', known after open(). */
  format: 'pcap' | 'pcapng' = 'pcap';
  /** The current frame: its bytes are buf[offset, offset + capLen). */
  buf: Buffer;
  offset = 0;
  capLen = 0;
  /** The frame's length on the wire (more than capLen when the capture cut it). */
  origLen = 0;
  linkType = 0;
  /** Nanoseconds since the first frame (negative for a frame stamped before it). */
  timeNs = 0;
  dir: FrameDir = FrameDir.Unknown;
  /** Frames returned so far, and bytes of the file consumed. */
  frames = 0;
  bytesRead = 0;
  /** Wall clock (ms since the epoch) of the first frame; undefined before it. */
  firstWallMs: number | undefined;

  private start = 0;
  private end = 0;
  private eof = false;
  private le = true;
  /** pcap: the link type of every record, seconds and fraction of the first frame, ns per fraction unit. */
  private pcapLink = 0;
  private pcapNsPerFrac = 1000;
  private baseSec = 0;
  private baseFrac = 0;
  private ifaces: NgInterface[] = [];
  /** pcapng: the time of the previous frame, for simple packet blocks (which carry none). */
  private lastNs = 0;
  private based = false;

  constructor(private readonly source: ByteSource, private readonly name: string, chunk = 4 * 1024 * 1024) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** Reads and checks the file header; a CaptureError when it is not a capture tc-top reads. */
  async open(): Promise<void> {
    await this.want(4);
    if (this.end - this.start < 4) throw new CaptureError(`${this.name} is not a pcap or pcapng capture (${this.end === 0 ? 'it is empty' : 'it is too short'})`);
    const magicLe = this.buf.readUInt32LE(this.start);
    const magicBe = this.buf.readUInt32BE(this.start);
    if (magicLe === NG_SHB) {
      this.format = 'pcapng';
      return;
    }
    if (magicLe === PCAP_US || magicLe === PCAP_NS || magicBe === PCAP_US || magicBe === PCAP_NS) {
      this.le = magicLe === PCAP_US || magicLe === PCAP_NS;
      this.pcapNsPerFrac = (this.le ? magicLe : magicBe) === PCAP_NS ? 1 : 1000;
      await this.want(24);
      if (this.end - this.start < 24) throw new CaptureError(`${this.name}: truncated pcap file header (${this.end - this.start} of 24 bytes)`);
      this.pcapLink = this.u32(this.start + 20) & 0xffff;
      if (!supported(this.pcapLink)) throw this.unsupported(this.pcapLink);
      this.consume(24);
      return;
    }
    throw new CaptureError(`${this.name} is not a pcap or pcapng capture (it begins with ${this.buf.subarray(this.start, this.start + 4).toString('hex')})`);
  }

  /**
   * Whether a frame may say which way it went (known after open()): pcapng's epb_flags, or a Linux
   * cooked capture's packet type. Every frame of another pcap has FrameDir.Unknown.
   */
  get directed(): boolean {
    return this.format === 'pcapng' || this.pcapLink === LinkType.LINUX_SLL || this.pcapLink === LinkType.LINUX_SLL2;
  }

  /** The next frame from the buffer; false when the buffer holds no whole record (then fill()). */
  next(): boolean {
    return this.format === 'pcap' ? this.nextPcap() : this.nextNg();
  }

  /**
   * Reads more of the file. False at its end; a CaptureError when the file ends inside a record
   * (the frames before it were all returned).
   */
  async fill(): Promise<boolean> {
    if (this.eof) {
      if (this.end > this.start) throw new CaptureError(`${this.name} is truncated: it ends inside a ${this.format === 'pcap' ? 'record' : 'block'} (${this.end - this.start} bytes after frame ${this.frames})`);
      return false;
    }
    const before = this.end - this.start;
    await this.want(Math.max(before + 1, this.needed));
    return true;
  }

  /** Bytes the record at the start of the buffer needs (more than the buffer holds). */
  private needed = 0;

  private u32(at: number): number {
    return this.le ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  private u16(at: number): number {
    return this.le ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }

  private consume(n: number): void {
    this.start += n;
    this.bytesRead += n;
  }

  /** Makes the buffer hold at least n bytes from start (fewer at the end of the file). */
  private async want(n: number): Promise<void> {
    if (n > MAX_RECORD) throw new CaptureError(`${this.name} is corrupt: a record of ${n} bytes after frame ${this.frames}`);
    if (this.end - this.start >= n) return;
    if (this.buf.length < n) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, this.start, this.end);
      this.buf = bigger;
    } else if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end);
    }
    this.end -= this.start;
    this.start = 0;
    while (!this.eof && this.end < this.buf.length) {
      const got = await this.source(this.buf, this.end, this.buf.length - this.end);
      if (got === 0) this.eof = true;
      this.end += got;
      if (this.end - this.start >= n) break;
    }
  }

  private unsupported(t: number): CaptureError {
    return new CaptureError(`${this.name}: unsupported link type ${linkTypeName(t)} (${t}): tc-top reads Ethernet, Linux cooked (SLL, SLL2) and raw IP captures`);
  }

  private nextPcap(): boolean {
    const s = this.start;
    if (this.end - s < 16) {
      this.needed = 16;
      return false;
    }
    const capLen = this.u32(s + 8);
    if (capLen > MAX_RECORD) throw new CaptureError(`${this.name} is corrupt: a record of ${capLen} bytes after frame ${this.frames}`);
    if (this.end - s < 16 + capLen) {
      this.needed = 16 + capLen;
      return false;
    }
    const sec = this.u32(s);
    const frac = this.u32(s + 4);
    if (!this.based) {
      this.based = true;
      this.baseSec = sec;
      this.baseFrac = frac;
      this.firstWallMs = sec * 1000 + (frac * this.pcapNsPerFrac) / 1e6;
    }
    this.timeNs = (sec - this.baseSec) * 1e9 + (frac - this.baseFrac) * this.pcapNsPerFrac;
    this.offset = s + 16;
    this.capLen = capLen;
    this.origLen = Math.max(this.u32(s + 12), capLen);
    this.linkType = this.pcapLink;
    this.dir = FrameDir.Unknown;
    this.consume(16 + capLen);
    this.frames++;
    return true;
  }

  private nextNg(): boolean {
    for (;;) {
      const s = this.start;
      if (this.end - s < 12) {
        this.needed = 12;
        return false;
      }
      const rawType = this.buf.readUInt32LE(s);
      if (rawType === NG_SHB) {
        // A new section: its own byte order and interfaces.
        const bom = this.buf.readUInt32LE(s + 8);
        if (bom === NG_BOM) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else throw new CaptureError(`${this.name} is corrupt: a pcapng section header with byte-order magic ${bom.toString(16)}`);
        this.ifaces = [];
      }
      const type = this.u32(s);
      const len = this.u32(s + 4);
      if (len < 12 || len % 4 !== 0) throw new CaptureError(`${this.name} is corrupt: a pcapng block of length ${len} after frame ${this.frames}`);
      if (len > MAX_RECORD) throw new CaptureError(`${this.name} is corrupt: a block of ${len} bytes after frame ${this.frames}`);
      if (this.end - s < len) {
        this.needed = len;
        return false;
      }
      if (this.u32(s + len - 4) !== len) throw new CaptureError(`${this.name} is corrupt: a pcapng block whose two lengths differ (${len}, ${this.u32(s + len - 4)}) after frame ${this.frames}`);
      this.consume(len);
      if (type === NG_EPB || type === NG_PB) {
        if (this.packet(s, len, type)) return true;
      } else if (type === NG_SPB) {
        if (this.simplePacket(s, len)) return true;
      } else if (type === NG_IDB) {
        this.ifaces.push(this.iface(s, len));
      }
      // Other blocks (name resolution, statistics, custom ...) say nothing about the frames.
    }
  }

  private iface(s: number, len: number): NgInterface {
    const linkType = this.u16(s + 8);
    const snaplen = this.u32(s + 12);
    let unitsPerS = 1e6;
    let offsetS = 0;
    for (let o = s + 16; o + 4 <= s + len - 4; ) {
      const code = this.u16(o);
      const olen = this.u16(o + 2);
      if (code === 0) break;
      if (code === 9 && olen >= 1) {
        const v = this.buf[o + 4]!;
        unitsPerS = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
      } else if (code === 14 && olen >= 8) {
        offsetS = this.le ? Number(this.buf.readBigInt64LE(o + 4)) : Number(this.buf.readBigInt64BE(o + 4));
      }
      o += 4 + Math.ceil(olen / 4) * 4;
    }
    return { linkType, snaplen, unitsPerS, nsPerUnit: 1e9 / unitsPerS, offsetS, baseHi: -1, baseLo: 0, baseNs: 0 };
  }

  private ifaceAt(id: number): NgInterface {
    const i = this.ifaces[id];
    if (!i) throw new CaptureError(`${this.name} is corrupt: a packet on interface ${id}, which no interface description block declares`);
    if (!supported(i.linkType)) throw this.unsupported(i.linkType);
    return i;
  }

  /** Enhanced (6) and obsolete (2) packet blocks. */
  private packet(s: number, len: number, type: number): boolean {
    const epb = type === NG_EPB;
    const i = this.ifaceAt(epb ? this.u32(s + 8) : this.u16(s + 8));
    const hi = this.u32(s + 12);
    const lo = this.u32(s + 16);
    const capLen = this.u32(s + 20);
    const dataAt = s + 28;
    const padded = Math.ceil(capLen / 4) * 4;
    if (dataAt + padded > s + len - 4) throw new CaptureError(`${this.name} is corrupt: a packet of ${capLen} bytes in a block of ${len} after frame ${this.frames}`);
    this.timeNs = this.ngTime(i, hi, lo);
    this.offset = dataAt;
    this.capLen = capLen;
    this.origLen = Math.max(this.u32(s + 24), capLen);
    this.linkType = i.linkType;
    this.dir = FrameDir.Unknown;
    // Options: epb_flags (2) bits 0-1 give the direction (pb_flags, also 2, the same).
    for (let o = dataAt + padded; o + 4 <= s + len - 4; ) {
      const code = this.u16(o);
      const olen = this.u16(o + 2);
      if (code === 0) break;
      if (code === 2 && olen >= 4) this.dir = (this.u32(o + 4) & 3) as FrameDir;
      o += 4 + Math.ceil(olen / 4) * 4;
    }
    this.frames++;
    return true;
  }

  /** Simple packet block: interface 0, no timestamp (the previous frame's), length cut at the snaplen. */
  private simplePacket(s: number, len: number): boolean {
    const i = this.ifaceAt(0);
    const origLen = this.u32(s + 8);
    const capLen = Math.min(origLen, i.snaplen || origLen, len - 16);
    this.timeNs = this.lastNs;
    this.offset = s + 12;
    this.capLen = capLen;
    this.origLen = Math.max(origLen, capLen);
    this.linkType = i.linkType;
    this.dir = FrameDir.Unknown;
    this.frames++;
    return true;
  }

  /** A pcapng timestamp on the capture's clock: exact within an interface, relative to its first frame. */
  private ngTime(i: NgInterface, hi: number, lo: number): number {
    if (i.baseHi < 0) {
      i.baseHi = hi;
      i.baseLo = lo;
      const wallMs = ((hi * 4294967296 + lo) / i.unitsPerS + i.offsetS) * 1000;
      if (this.firstWallMs === undefined) this.firstWallMs = wallMs;
      // Another interface's first frame: placed on the clock of the capture's first one (to a µs).
      i.baseNs = Math.round((wallMs - this.firstWallMs) * 1e6);
    }
    const t = i.baseNs + ((hi - i.baseHi) * 4294967296 + (lo - i.baseLo)) * i.nsPerUnit;
    this.lastNs = t;
    return t;
  }
}
