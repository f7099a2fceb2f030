/** Captures written by hand for the tests: pcap and pcapng of given frames, with the knobs the reader must honour. */

export interface CapFrame {
  readonly data: Buffer;
  /** Seconds since the epoch, and nanoseconds within the second. */
  readonly sec: number;
  readonly ns?: number;
  /** Length on the wire; default data.length. */
  readonly origLen?: number;
  /** pcapng: epb_flags direction (1 in, 2 out). */
  readonly dir?: 0 | 1 | 2;
  /** pcapng: interface id (default 0). */
  readonly iface?: number;
}

export function pcap(frames: readonly CapFrame[], o: { linkType?: number; nano?: boolean; bigEndian?: boolean } = {}): Buffer {
  const be = o.bigEndian ?? false;
  const u32 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const u16 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const head = Buffer.alloc(24);
  u32(head, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(head, 2, 4);
  u16(head, 4, 6);
  u32(head, 262144, 16);
  u32(head, o.linkType ?? 1, 20);
  const parts: Buffer[] = [head];
  for (const f of frames) {
    const rec = Buffer.alloc(16);
    u32(rec, f.sec, 0);
    u32(rec, o.nano ? (f.ns ?? 0) : Math.floor((f.ns ?? 0) / 1000), 4);
    u32(rec, f.data.length, 8);
    u32(rec, f.origLen ?? f.data.length, 12);
    parts.push(rec, f.data);
  }
  return Buffer.concat(parts);
}

function block(type: number, body: Buffer): Buffer {
  const len = 12 + Math.ceil(body.length / 4) * 4;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  body.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}

function option(code: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  value.copy(b, 4);
  return b;
}

export interface NgInterface {
  readonly linkType?: number;
  /** if_tsresol's byte (6: µs, the default; 9: ns; 0x80 | n: 2^-n). */
  readonly tsresol?: number;
}

/** A pcapng section (little-endian) with the interfaces given (default one Ethernet, µs) and enhanced packet blocks; `simple` writes simple packet blocks instead. */
export function pcapng(frames: readonly CapFrame[], o: { interfaces?: readonly NgInterface[]; simple?: boolean } = {}): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeInt32LE(-1, 8);
  shb.writeInt32LE(-1, 12);
  const ifaces = o.interfaces ?? [{}];
  const parts = [block(0x0a0d0d0a, shb)];
  for (const i of ifaces) {
    const idb = Buffer.alloc(8);
    idb.writeUInt16LE(i.linkType ?? 1, 0);
    idb.writeUInt32LE(262144, 4);
    const opts = i.tsresol !== undefined ? [option(9, Buffer.from([i.tsresol])), Buffer.alloc(4)] : [];
    parts.push(block(1, Buffer.concat([idb, ...opts])));
  }
  for (const f of frames) {
    if (o.simple) {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(f.origLen ?? f.data.length, 0);
      parts.push(block(3, Buffer.concat([h, f.data, Buffer.alloc((4 - (f.data.length % 4)) % 4)])));
      continue;
    }
    const res = ifaces[f.iface ?? 0]?.tsresol ?? 6;
    const perS = res & 0x80 ? 2n ** BigInt(res & 0x7f) : 10n ** BigInt(res);
    const units = BigInt(f.sec) * perS + (BigInt(f.ns ?? 0) * perS) / 1_000_000_000n;
    const h = Buffer.alloc(20);
    h.writeUInt32LE(f.iface ?? 0, 0);
    h.writeUInt32LE(Number(units >> 32n), 4);
    h.writeUInt32LE(Number(units & 0xffffffffn), 8);
    h.writeUInt32LE(f.data.length, 12);
    h.writeUInt32LE(f.origLen ?? f.data.length, 16);
    const pad = Buffer.alloc((4 - (f.data.length % 4)) % 4);
    const flags = f.dir ? [option(2, Buffer.from([f.dir, 0, 0, 0])), Buffer.alloc(4)] : [];
    parts.push(block(6, Buffer.concat([h, f.data, pad, ...flags])));
  }
  return Buffer.concat(parts);
}

/**
 * Resolves once `ready()` holds for the capture tcpdump is writing to `file` (polled), or after
 * timeoutMs: tcpdump stops at SIGINT without writing what is still in its socket's buffer, which on
 * a slow or emulated machine can be the last exchanges of a test's traffic.
 */
export async function captureHolds(ready: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (ready()) return;
    } catch {
      /* the file is being written: try again */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
