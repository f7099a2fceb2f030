/**
 * A small frame builder for tests: Ethernet, VLAN tags, IPv4 (options, fragments), IPv6 (extension
 * headers), TCP/UDP/UDP-Lite/SCTP/ICMP/ICMPv6. The same frames go through BPF_PROG_TEST_RUN and
 * onto real veth links, so the expected counts are known to the byte.
 */

export const MAC_A = '02:00:00:00:00:0a';
export const MAC_B = '02:00:00:00:00:0b';

export type L4 =
  | { kind: 'tcp'; sport: number; dport: number; flags?: number; doff?: number }
  | { kind: 'udp' | 'udplite'; sport: number; dport: number }
  | { kind: 'sctp'; sport: number; dport: number }
  | { kind: 'icmp' | 'icmpv6'; type: number; code: number }
  | { kind: 'raw'; proto: number };

export interface Ext {
  /** IPv6 extension header: 0 hop-by-hop, 43 routing, 60 destination options, 44 fragment, 51 AH. */
  readonly type: 0 | 43 | 60 | 44 | 51 | 135;
  /** Fragment offset in 8-byte units (fragment header only). */
  readonly fragOffset?: number;
  /** Length in 8-byte units beyond the first 8 (hop-by-hop, routing, dstopts), or AH's payload length. */
  readonly len?: number;
}

export interface FrameSpec {
  readonly dstMac?: string;
  readonly srcMac?: string;
  /** VLAN tags, outermost first: [tpid, vid]. */
  readonly vlans?: readonly (readonly [number, number])[];
  readonly ip:
    | { v: 4; src: string; dst: string; options?: number; fragOffset?: number; moreFragments?: boolean; ihl?: number }
    | { v: 6; src: string; dst: string; ext?: readonly Ext[] };
  readonly l4: L4;
  /** Bytes after the transport header. */
  readonly payload?: number;
}

const PROTO = { tcp: 6, udp: 17, udplite: 136, sctp: 132, icmp: 1, icmpv6: 58 } as const;

function mac(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

export function ipv4(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

export function ipv6(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function l4Proto(l4: L4): number {
  return l4.kind === 'raw' ? l4.proto : PROTO[l4.kind];
}

function l4Header(l4: L4): Buffer {
  switch (l4.kind) {
    case 'tcp': {
      const b = Buffer.alloc(20);
      b.writeUInt16BE(l4.sport, 0);
      b.writeUInt16BE(l4.dport, 2);
      b[12] = (l4.doff ?? 5) << 4;
      b[13] = l4.flags ?? 0x02;
      b.writeUInt16BE(65535, 14);
      return b;
    }
    case 'udp':
    case 'udplite': {
      const b = Buffer.alloc(8);
      b.writeUInt16BE(l4.sport, 0);
      b.writeUInt16BE(l4.dport, 2);
      return b;
    }
    case 'sctp': {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(l4.sport, 0);
      b.writeUInt16BE(l4.dport, 2);
      return b;
    }
    case 'icmp':
    case 'icmpv6': {
      const b = Buffer.alloc(8);
      b[0] = l4.type;
      b[1] = l4.code;
      return b;
    }
    case 'raw':
      return Buffer.alloc(0);
  }
}

function extHeader(ext: Ext, next: number): Buffer {
  if (ext.type === 44) {
    const b = Buffer.alloc(8);
    b[0] = next;
    b.writeUInt16BE(((ext.fragOffset ?? 0) << 3) | 1, 2);
    b.writeUInt32BE(0x1234, 4);
    return b;
  }
  if (ext.type === 51) {
    const len = ext.len ?? 4; /* AH: (len + 2) * 4 bytes */
    const b = Buffer.alloc((len + 2) * 4);
    b[0] = next;
    b[1] = len;
    return b;
  }
  const len = ext.len ?? 0;
  const b = Buffer.alloc((len + 1) * 8);
  b[0] = next;
  b[1] = len;
  if (ext.type === 0 || ext.type === 60) b[2] = 1; /* a PadN option */
  return b;
}

/** The frame bytes for a spec. */
export function frame(spec: FrameSpec): Buffer {
  const parts: Buffer[] = [mac(spec.dstMac ?? MAC_A), mac(spec.srcMac ?? MAC_B)];
  for (const [tpid, vid] of spec.vlans ?? []) {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(tpid, 0);
    tag.writeUInt16BE(vid, 2);
    parts.push(tag);
  }
  const transport = Buffer.concat([l4Header(spec.l4), Buffer.alloc(spec.payload ?? 0, 0x61)]);
  const ethType = Buffer.alloc(2);
  if (spec.ip.v === 4) {
    ethType.writeUInt16BE(0x0800);
    const options = spec.ip.options ?? 0;
    const ip = Buffer.alloc(20 + options);
    ip[0] = 0x40 | (spec.ip.ihl ?? 5 + options / 4);
    ip.writeUInt16BE(ip.length + transport.length, 2);
    ip.writeUInt16BE(((spec.ip.fragOffset ?? 0) & 0x1fff) | (spec.ip.moreFragments ? 0x2000 : 0), 6);
    ip[8] = 64;
    ip[9] = l4Proto(spec.l4);
    ipv4(spec.ip.src).copy(ip, 12);
    ipv4(spec.ip.dst).copy(ip, 16);
    for (let i = 20; i < ip.length; i++) ip[i] = 1; /* NOP options */
    ip.writeUInt16BE(checksum(ip), 10);
    // A non-first fragment carries payload, not a transport header.
    parts.push(ethType, ip, spec.ip.fragOffset ? Buffer.alloc(transport.length, 0x62) : transport);
  } else {
    ethType.writeUInt16BE(0x86dd);
    const exts = spec.ip.ext ?? [];
    const chain: Buffer[] = [];
    for (let i = 0; i < exts.length; i++) {
      const next = i + 1 < exts.length ? exts[i + 1]!.type : l4Proto(spec.l4);
      chain.push(extHeader(exts[i]!, next));
    }
    const body = Buffer.concat([...chain, transport]);
    const ip = Buffer.alloc(40);
    ip.writeUInt32BE(0x60000000, 0);
    ip.writeUInt16BE(body.length, 4);
    ip[6] = exts.length ? exts[0]!.type : l4Proto(spec.l4);
    ip[7] = 64;
    ipv6(spec.ip.src).copy(ip, 8);
    ipv6(spec.ip.dst).copy(ip, 24);
    parts.push(ethType, ip, body);
  }
  return Buffer.concat(parts);
}

/** An ARP request: a frame that is not IP. */
export function arpFrame(): Buffer {
  const b = Buffer.alloc(42);
  mac('ff:ff:ff:ff:ff:ff').copy(b, 0);
  mac(MAC_B).copy(b, 6);
  b.writeUInt16BE(0x0806, 12);
  b.writeUInt16BE(1, 14);
  b.writeUInt16BE(0x0800, 16);
  b[18] = 6;
  b[19] = 4;
  b.writeUInt16BE(1, 20);
  return b;
}
