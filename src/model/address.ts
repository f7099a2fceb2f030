/**
 * IPv4/IPv6 text to bytes and back, written by hand because the model may not import node:net.
 * Filters compare bytes rather than strings so 2001:db8:0:0::1 matches a stored 2001:db8::1.
 */

const DOT = 0x2e;
const ZERO = 0x30;
const HEX_BYTES = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export interface Address {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

/** An address and the number of leading bits that matter (a host is a full-length prefix). */
export interface Prefix extends Address {
  readonly len: number;
}

/**
 * Strict dotted quad as inet_pton takes it: four decimal octets, no leading zeros. A character
 * loop rather than split and regexes: sorting by address parses every flow's address once a frame.
 */
export function parseIPv4(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : DOT; // a dot past the end closes the last octet
    if (c === DOT) {
      if (digits === 0 || part === 4) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= ZERO && c <= ZERO + 9) {
      if (digits > 0 && value === 0) return undefined;
      value = value * 10 + (c - ZERO);
      digits++;
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? bytes : undefined;
}

/** RFC 4291 text forms: hex groups, one '::', and an optional dotted-quad tail. No zone ids. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(halves[0] ?? '');
  const right = compressed ? groups(halves[1] ?? '') : [];

  const last = compressed ? right : left;
  let tail: Uint8Array | undefined;
  if (last.length > 0 && (last[last.length - 1] ?? '').includes('.')) {
    tail = parseIPv4(last.pop() ?? '');
    if (!tail) return undefined;
  }

  const words = left.length + right.length + (tail ? 2 : 0);
  if (compressed ? words > 7 : words !== 8) return undefined;

  const bytes = new Uint8Array(16);
  const put = (list: string[], start: number): boolean => {
    for (let i = 0; i < list.length; i++) {
      const group = list[i] ?? '';
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
      const value = parseInt(group, 16);
      bytes[start + 2 * i] = value >> 8;
      bytes[start + 2 * i + 1] = value & 0xff;
    }
    return true;
  };
  const tailBytes = tail ? 4 : 0;
  if (!put(left, 0) || !put(right, 16 - tailBytes - 2 * right.length)) return undefined;
  if (tail) bytes.set(tail, 12);
  return bytes;
}

export function parseAddress(text: string): Address | undefined {
  const v4 = parseIPv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

/** 'addr/len' with len 0..32 (IPv4) or 0..128 (IPv6). Host bits beyond len are ignored, not refused. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddress(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  return len <= addr.bytes.length * 8 ? { ...addr, len } : undefined;
}

/** True when addr has the prefix's family and its first len bits. */
export function prefixContains(prefix: Prefix, addr: Address): boolean {
  if (prefix.family !== addr.family) return false;
  const whole = prefix.len >> 3;
  for (let i = 0; i < whole; i++) {
    if (prefix.bytes[i] !== addr.bytes[i]) return false;
  }
  const rest = prefix.len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (((prefix.bytes[whole] ?? 0) ^ (addr.bytes[whole] ?? 0)) & mask) === 0;
}

/** Dotted-quad text of the 4 bytes at `off`. */
export function formatIPv4(bytes: Uint8Array, off = 0): string {
  return `${bytes[off]}.${bytes[off + 1]}.${bytes[off + 2]}.${bytes[off + 3]}`;
}

/**
 * RFC 5952 text of the 16 bytes at `off`: lower-case hex without leading zeros, the longest run of
 * two or more zero groups as '::' (the first of equal runs; a single zero group stays), and an
 * IPv4-mapped address as ::ffff:a.b.c.d (RFC 5952 section 5). The one IPv6 formatter: the
 * collectors' records and the filters' text both use it.
 */
export function formatIPv6(bytes: Uint8Array, off = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[off + i] as number) << 8) | (bytes[off + i + 1] as number));
  if (words[5] === 0xffff && words.slice(0, 5).every((w) => w === 0)) return `::ffff:${formatIPv4(bytes, off + 12)}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (list: number[]): string => list.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Canonical text: dotted quad for IPv4, formatIPv6's RFC 5952 text for IPv6. */
export function formatAddress(addr: Address): string {
  return addr.family === 4 ? formatIPv4(addr.bytes) : formatIPv6(addr.bytes);
}

/**
 * A string that orders addresses numerically (IPv4 before IPv6) under plain string comparison, so
 * 10.0.0.9 sorts before 10.0.0.10. Text that is not an address sorts after all addresses.
 */
export function addressSortKey(text: string): string {
  const addr = parseAddress(text);
  if (!addr) return `9${text}`;
  let hex = String(addr.family);
  for (const byte of addr.bytes) hex += HEX_BYTES[byte];
  return hex;
}
