/**
 * TCP handshake RTT as the hook sees it pass (the counter object's `handshakes` map, tc_top.h): the
 * time from a connection's SYN to the first ACK of the SYN's direction after the SYN-ACK, both seen
 * at the hook: the whole round trip through this point (client to here to server and back), as
 * Wireshark's tcp.analysis.initial_rtt measures it in a capture. It is the RTT of the flows that
 * have no local socket (forwarded traffic, a capture read with -r); a flow with a local socket
 * shows the socket's own RTT (health.ts) instead.
 *
 * Each read takes the complete entries out of the kernel map into a cache kept while their flows
 * live (deleteFlows), so the map holds only handshakes in flight; one never completed (a SYN
 * scan, a refused connection) is dropped once STALE_NS older than the newest time in the map.
 */
import { FlowKey, Handshake } from '../ffi/layout.js';
import { mapDeleteElem } from '../ffi/libbpf.js';
import type { HealthEntry } from '../model/health.js';
import { MapReader } from './map-reader.js';

/** An unfinished handshake is forgotten this long after the newest time any entry holds. */
const STALE_NS = 30e9;
interface Done {
  /** The entry every read gives (the same object: nothing is made per read). */
  readonly entry: HealthEntry;
  /** The entry of the read it completed in, whose interval's min and max are its RTT; given once. */
  fresh: HealthEntry | undefined;
}

/** The reverse direction's key (hex) of a flow key: addresses and ports swapped, dir as given. */
function reversed(k: Buffer, dir: number): string {
  const r = Buffer.from(k);
  r[FlowKey.dir] = dir;
  k.copy(r, FlowKey.src, FlowKey.dst, FlowKey.dst + 16);
  k.copy(r, FlowKey.dst, FlowKey.src, FlowKey.src + 16);
  r.writeUInt16LE(k.readUInt16LE(FlowKey.dport), FlowKey.sport);
  r.writeUInt16LE(k.readUInt16LE(FlowKey.sport), FlowKey.dport);
  return r.toString('hex');
}

export class HandshakeReader {
  private readonly reader: MapReader;
  /** Completed handshakes by the key of the SYN's direction (hex), oldest first. */
  private readonly done = new Map<string, Done>();

  constructor(
    private readonly fd: number,
    maxEntries: number,
    /** Completed handshakes kept at most (the oldest go first; a flow's expiry removes its own): the flows map's size. */
    private readonly keep: number,
  ) {
    this.reader = new MapReader(fd, FlowKey.size, Handshake.size, maxEntries);
  }

  /** The handshakes completed so far whose flows live, as health entries (RTT only). */
  read(): HealthEntry[] {
    const { keys, values, count } = this.reader.read();
    let newest = 0;
    for (let e = 0; e < count; e++) {
      const o = e * Handshake.size;
      newest = Math.max(newest, Number(values.readBigUInt64LE(o + Handshake.synNs)), Number(values.readBigUInt64LE(o + Handshake.synAckNs)), Number(values.readBigUInt64LE(o + Handshake.ackNs)));
    }
    for (let e = 0; e < count; e++) {
      const o = e * Handshake.size;
      const key = keys.subarray(e * FlowKey.size, (e + 1) * FlowKey.size);
      const syn = Number(values.readBigUInt64LE(o + Handshake.synNs));
      const ack = Number(values.readBigUInt64LE(o + Handshake.ackNs));
      if (ack > 0) {
        const hex = key.toString('hex');
        const us = Math.max(0, ack - syn) / 1000;
        const dir = key[FlowKey.dir] as number;
        // The SYN-ACK's flow is the reverse direction; a capture without directions marks both ingress.
        const flows = [hex, reversed(key, dir ^ 1), reversed(key, dir)];
        this.done.delete(hex); /* a newer connection on the same 4-tuple: its own time, last in order */
        this.done.set(hex, {
          entry: { id: `h${hex}`, flows, rtt: { last: us, handshake: true } },
          fresh: { id: `h${hex}`, flows, rtt: { last: us, min: us, max: us, handshake: true } },
        });
        mapDeleteElem(this.fd, key);
      } else if (syn < newest - STALE_NS) {
        mapDeleteElem(this.fd, key);
      }
    }
    for (const k of this.done.keys()) {
      if (this.done.size <= this.keep) break;
      this.done.delete(k);
    }
    const out: HealthEntry[] = [];
    for (const d of this.done.values()) {
      out.push(d.fresh ?? d.entry);
      d.fresh = undefined;
    }
    return out;
  }

  /** Forget the handshakes of expired flows (keys as FlowRecord.key has them, either direction). */
  deleteFlows(keys: readonly string[]): void {
    if (this.done.size === 0) return;
    for (const hex of keys) {
      if (this.done.delete(hex)) continue;
      const k = Buffer.from(hex, 'hex');
      const dir = k[FlowKey.dir] as number;
      if (!this.done.delete(reversed(k, dir ^ 1))) this.done.delete(reversed(k, dir));
    }
  }
}
