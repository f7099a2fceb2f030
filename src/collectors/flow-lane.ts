/**
 * Which replay lane a frame goes to (tc-top -r on several CPUs): a hash of its flow's key with the
 * two ends in either order, so that both directions of a connection share a lane and keep their
 * order (the handshake timer needs the SYN, then the SYN-ACK, then the ACK). The key is read the way
 * the program's parser reads it (bpf/tc_top.bpf.c): addresses, protocol, and the ports of TCP, UDP,
 * UDP-Lite and SCTP; ports 0 for a non-first fragment and for every other protocol (ICMP's
 * type and code included: each frame of such a flow still finds the same lane). Up to two VLAN
 * tags, IPv6 extension headers as the program walks them.
 *
 * A frame whose key is not found here (not IP, cut short) goes to lane 0. That is safe because the
 * program finds no flow in it either: it needs at least the bytes read here.
 */

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;
/** More than the program walks (8), so that every chain it takes is walked here too. */
const MAX_EXT_HEADERS = 9;

/** The lane of an Ethernet frame in buf[at, end). */
export function ethernetLane(buf: Uint8Array, at: number, end: number, lanes: number): number {
  if (end - at < 14) return 0;
  let proto = (buf[at + 12]! << 8) | buf[at + 13]!;
  let pos = at + 14;
  for (let i = 0; i < 2 && (proto === ETH_P_8021Q || proto === ETH_P_8021AD); i++) {
    if (pos + 4 > end) return 0;
    proto = (buf[pos + 2]! << 8) | buf[pos + 3]!;
    pos += 4;
  }
  return ipLane(buf, pos, end, proto, lanes);
}

/** The lane of the IP packet in buf[at, end) whose ethertype is proto. */
export function ipLane(buf: Uint8Array, at: number, end: number, proto: number, lanes: number): number {
  if (lanes <= 1) return 0;
  const h = proto === ETH_P_IP ? ipv4Hash(buf, at, end) : proto === ETH_P_IPV6 ? ipv6Hash(buf, at, end) : 0;
  return (h >>> 0) % lanes;
}

function ipv4Hash(b: Uint8Array, at: number, end: number): number {
  if (at + 20 > end) return 0;
  const l4 = at + (b[at]! & 15) * 4;
  const proto = b[at + 9]!;
  const src = fold(SEED, word(b, at + 12));
  const dst = fold(SEED, word(b, at + 16));
  // A non-first fragment has no transport header: the program keys it with ports 0.
  const frag = ((b[at + 6]! & 0x1f) | b[at + 7]!) !== 0;
  return ends(src, dst, proto, frag ? -1 : l4, b, end);
}

function ipv6Hash(b: Uint8Array, at: number, end: number): number {
  if (at + 40 > end) return 0;
  let src = SEED;
  let dst = SEED;
  for (let i = 0; i < 16; i += 4) {
    src = fold(src, word(b, at + 8 + i));
    dst = fold(dst, word(b, at + 24 + i));
  }
  let next = b[at + 6]!;
  let pos = at + 40;
  for (let i = 0; i < MAX_EXT_HEADERS; i++) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      // Hop-by-hop, routing, destination options, mobility, HIP, shim6: 8-byte units after the first 8.
      if (pos + 2 > end) return 0;
      next = b[pos]!;
      pos += (b[pos + 1]! + 1) * 8;
    } else if (next === 51) {
      // AH: 4-byte units, less 2.
      if (pos + 2 > end) return 0;
      next = b[pos]!;
      pos += (b[pos + 1]! + 2) * 4;
    } else if (next === 44) {
      if (pos + 8 > end) return 0;
      next = b[pos]!;
      if (((b[pos + 2]! << 8) | b[pos + 3]!) & 0xfff8) return ends(src, dst, next, -1, b, end);
      pos += 8;
    } else {
      return ends(src, dst, next, pos, b, end);
    }
  }
  return 0;
}

/** Both ends (the hash of an address, a port) in either order, and the protocol; ports from l4 (-1: none). */
function ends(src: number, dst: number, proto: number, l4: number, b: Uint8Array, end: number): number {
  let sport = 0;
  let dport = 0;
  if (l4 >= 0 && (proto === 6 || proto === 17 || proto === 136 || proto === 132) && l4 + 4 <= end) {
    sport = (b[l4]! << 8) | b[l4 + 1]!;
    dport = (b[l4 + 2]! << 8) | b[l4 + 3]!;
  }
  // A sum of the two ends' hashes does not depend on their order.
  return mix((fold(src, sport) + fold(dst, dport)) ^ proto);
}

function word(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

const SEED = 0x811c9dc5;

/** One word into a running hash (multiplicative; mix() spreads it at the end). */
function fold(h: number, w: number): number {
  return Math.imul(h ^ w, 0x9e3779b1);
}

/** A 32-bit finaliser (lowbias32): every input bit moves every output bit. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return h ^ (h >>> 16);
}
