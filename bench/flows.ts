/**
 * Synthetic flows written straight into a flows map from userspace (bpf_map_update_elem), in the
 * kernel's layout (src/ffi/layout.ts): a mix of IPv4 and IPv6, TCP and UDP, both directions,
 * distinct keys. Values look like live flows: last seen just now, so that no tick expires them.
 */
import { FlowKey, FlowSlot, FlowValue, perCpuSlot } from '../src/ffi/layout.js';
import { mapUpdateElem, numPossibleCpus } from '../src/ffi/libbpf.js';

/** Writes key i (0 <= i < 2^32) into `key` (48 bytes, zeroed padding). */
export function syntheticKey(key: Buffer, i: number, ifindex = 1): void {
  key.fill(0);
  const v6 = i % 5 === 4; /* one flow in five is IPv6 */
  key[FlowKey.family] = v6 ? 6 : 4;
  key[FlowKey.proto] = i % 3 === 0 ? 17 : 6;
  key[FlowKey.dir] = i & 1;
  key.writeUInt32LE(ifindex, FlowKey.ifindex);
  if (v6) {
    key.writeUInt32BE(0x20010db8, FlowKey.src);
    key.writeUInt32BE(i >>> 0, FlowKey.src + 12);
    key.writeUInt32BE(0xfd000000, FlowKey.dst);
    key[FlowKey.dst + 15] = 1;
  } else {
    key.writeUInt32BE((0x0a000000 + (i >>> 8)) >>> 0, FlowKey.src);
    key.writeUInt32BE(0xc0000201, FlowKey.dst);
  }
  key.writeUInt16LE(1024 + (i & 0xff), FlowKey.sport);
  key.writeUInt16LE(i % 7 === 0 ? 53 : 443, FlowKey.dport);
}

/** A value slot: packets, bytes, first and last seen, TCP flags. */
export function writeValue(buf: Buffer, off: number, packets: number, bytes: number, firstNs: bigint, lastNs: bigint): void {
  buf.writeBigUInt64LE(BigInt(packets), off + FlowValue.packets);
  buf.writeBigUInt64LE(BigInt(bytes), off + FlowValue.bytes);
  buf.writeBigUInt64LE(firstNs, off + FlowValue.firstSeen);
  buf.writeBigUInt64LE(lastNs, off + FlowValue.lastSeen);
  buf.writeUInt32LE(0x18, off + FlowValue.tcpFlags);
}

/** Flows 0..n-1, each with a few packets, first seen a minute ago and last seen now. */
function fillFlows(n: number, put: (i: number, packets: number, bytes: number, firstNs: bigint, lastNs: bigint) => void): void {
  const now = process.hrtime.bigint();
  const first = now - 60_000_000_000n;
  for (let i = 0; i < n; i++) {
    const packets = 1 + (i % 1000);
    put(i, packets, packets * (64 + (i % 1400)), first, now);
  }
}

export class FlowFiller {
  private readonly key = Buffer.alloc(FlowKey.size);
  private readonly value: Buffer;
  private readonly slot: number;
  private readonly cpus: number;

  constructor(
    private readonly fd: number,
    percpu: boolean,
  ) {
    this.cpus = percpu ? numPossibleCpus() : 1;
    this.slot = percpu ? perCpuSlot(FlowValue.size) : FlowValue.size;
    this.value = Buffer.alloc(this.slot * this.cpus);
  }

  /** Write flow i with these cumulative counters (spread over the CPUs of a per-CPU map). */
  put(i: number, packets: number, bytes: number, firstNs: bigint, lastNs: bigint): void {
    syntheticKey(this.key, i);
    for (let c = 0; c < this.cpus; c++) {
      const share = c === 0 ? packets - Math.floor(packets / this.cpus) * (this.cpus - 1) : Math.floor(packets / this.cpus);
      writeValue(this.value, c * this.slot, share, share * Math.round(bytes / Math.max(1, packets)), firstNs, lastNs);
    }
    mapUpdateElem(this.fd, this.key, this.value);
  }

  /** Flows 0..n-1, each with a few packets, first seen a minute ago and last seen now. */
  fill(n: number): void {
    fillFlows(n, (i, packets, bytes, first, now) => this.put(i, packets, bytes, first, now));
  }
}

/** max_entries for a map that must hold n flows without an LRU eviction (per-CPU free lists keep some back). */
export function capacityFor(n: number): number {
  return Math.ceil(n * 1.1) + 1024;
}

/**
 * The same flows for the mmap map kind: flow i in slot i of flow_slots (written through a mapping
 * of its own) and indexed in flow_index, as the programs would leave them.
 */
export class SlotFiller {
  private readonly key = Buffer.alloc(FlowKey.size);
  private readonly slotBuf = Buffer.alloc(4);
  private readonly slots: Buffer;

  /** `shared`: the collector's own mapping of flow_slots (a second mapping would count twice in the process's memory). */
  constructor(
    shared: ArrayBuffer,
    private readonly indexFd: number,
    private readonly capacity: number,
  ) {
    this.slots = Buffer.from(shared);
  }

  put(i: number, packets: number, bytes: number, firstNs: bigint, lastNs: bigint): void {
    if (i >= this.capacity) throw new RangeError(`slot ${i} beyond ${this.capacity}`);
    const at = i * FlowSlot.size;
    const fresh = this.slots[at + FlowKey.family] === 0;
    syntheticKey(this.key, i);
    this.key.copy(this.slots, at + FlowSlot.key);
    writeValue(this.slots, at + FlowSlot.value, packets, bytes, firstNs, lastNs);
    if (fresh) {
      this.slotBuf.writeUInt32LE(i);
      mapUpdateElem(this.indexFd, this.key, this.slotBuf);
    }
  }

  fill(n: number): void {
    fillFlows(n, (i, packets, bytes, first, now) => this.put(i, packets, bytes, first, now));
  }
}
