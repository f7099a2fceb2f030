/** The benchmark's frames, from the tests' frame builder: one shape each, many distinct flows. */
import { frame } from '../test/helpers/packets.js';

export type FrameKind = 'tcp4' | 'udp6';

export const FRAME_LABEL: Record<FrameKind, string> = {
  tcp4: 'TCP/IPv4, 64 B',
  udp6: 'UDP/IPv6 + 3 ext. headers, 100 B',
};

/** Flow i of a kind (distinct source address and port per i, i < 2^24). */
export function benchFrame(kind: FrameKind, i = 0): Buffer {
  if (kind === 'tcp4') {
    // 14 + 20 + 20 + 10 = 64 bytes: the minimum Ethernet frame (without FCS) with a little payload.
    return frame({
      ip: { v: 4, src: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, dst: '192.0.2.9' },
      l4: { kind: 'tcp', sport: 1024 + (i % 60000), dport: 443, flags: 0x10 },
      payload: 10,
    });
  }
  // 14 + 40 + hop-by-hop 8 + routing 8 + destination options 8 + UDP 8 + 14 = 100 bytes.
  const hi = (i >>> 16) & 0xffff;
  const lo = i & 0xffff;
  return frame({
    ip: { v: 6, src: `2001:db8::${hi.toString(16)}:${lo.toString(16)}`, dst: 'fd00:0:0:1::2', ext: [{ type: 0 }, { type: 43 }, { type: 60 }] },
    l4: { kind: 'udp', sport: 1024 + (i % 60000), dport: 53 },
    payload: 14,
  });
}
