/**
 * Small string helpers for showing flows: protocol names, TCP flag letters, endpoints and ICMP
 * type/code. Pure and locale-free so the UI and the filter agree on every spelling.
 */

/** Protocols tc-top names; everything else is shown as its number. */
const PROTO_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'icmp'],
  [6, 'tcp'],
  [17, 'udp'],
  [58, 'icmpv6'],
  [132, 'sctp'],
  [136, 'udplite'],
]);

/** Names accepted on input: the display names plus the spelling tcpdump users type for ICMPv6. */
const PROTO_NUMBERS: ReadonlyMap<string, number> = new Map([
  ...[...PROTO_NAMES].map(([num, name]): [string, number] => [name, num]),
  ['icmp6', 58],
]);

/** Protocols whose dport is a port; for ICMP it holds type * 256 + code instead. */
const PORT_PROTOS: ReadonlySet<number> = new Set([6, 17, 132, 136]);

export function protoName(proto: number): string {
  return PROTO_NAMES.get(proto) ?? String(proto);
}

/** Inverse of protoName: a known name (any case) or a decimal number 0..255. */
export function protoNumber(name: string): number | undefined {
  const text = name.trim().toLowerCase();
  if (/^\d{1,3}$/.test(text)) {
    const num = Number(text);
    return num <= 255 ? num : undefined;
  }
  return PROTO_NUMBERS.get(text);
}

/** True when the protocol's sport/dport are real ports (tcp, udp, sctp, udplite). */
export function hasPorts(proto: number): boolean {
  return PORT_PROTOS.has(proto);
}

/** tcpdump's letters, indexed by bit: FIN 0x01 ... CWR 0x80. */
const TCP_FLAG_LETTERS = 'FSRPAUEC';

/** The set TCP flags as letters in bit order, e.g. 0x12 gives 'SA'; '' when none are set. */
export function tcpFlagsString(flags: number): string {
  let out = '';
  for (let bit = 0; bit < TCP_FLAG_LETTERS.length; bit++) {
    if (flags & (1 << bit)) out += TCP_FLAG_LETTERS[bit];
  }
  return out;
}

/** addr:port, with IPv6 in brackets so its colons cannot be read as the port separator. */
export function formatEndpoint(addr: string, port: number, family: 4 | 6, showPort: boolean): string {
  if (!showPort) return addr;
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Splits the kernel's ICMP dport (type * 256 + code, as NetFlow does) into its two parts. */
export function icmpTypeCode(dport: number): { type: number; code: number } {
  return { type: (dport >> 8) & 0xff, code: dport & 0xff };
}
