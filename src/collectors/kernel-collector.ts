/**
 * The real collector: loads tc-top's BPF object, attaches its hooks, and on each read returns an
 * immutable Snapshot of every flow and the global counters. It owns every kernel resource it
 * acquires and releases them all, newest first, on close() or on a failed start.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../ffi/errors.js';
import { Bss, Config, Counters, EvictedKey, FlowKey, FlowSlot, FlowValue, Handshake, MapMode, Maps, Programs, ReplayProgram, perCpuSlot } from '../ffi/layout.js';
import {
  AttachType,
  BpfObject,
  MapType,
  ifIndexToName,
  mapDeleteElem,
  mapLookupElem,
  mapMmap,
  numPossibleCpus,
} from '../ffi/libbpf.js';
import { withoutRows, type FlowSet } from '../model/flow-set.js';
import type { Snapshot } from '../model/types.js';
import { decodeCounters } from './decode.js';
import { KernelFlowSet, ValueColumns } from './kernel-flows.js';
import { type HookInfo, KernelFeatureError, type TcMode, type XdpMode, attachTc, attachXdp, gone } from './hooks.js';
import { missingRequired } from './kernel-features.js';
import { type Iface, InterfaceError, resolveInterface } from './interfaces.js';
import { describeLeftover, findLeftoverClsact, findLeftovers, heldPrograms } from './leftovers.js';
import { sweepRecords } from './clsact-record.js';
import { MapReader, type MapEntries, type ReadMethod } from './map-reader.js';
import { SlotReader, type Calm } from './slot-reader.js';
import { EvictedKeys } from './evicted-keys.js';
import { HandshakeReader } from './handshakes.js';
import { HealthProbe } from './health.js';
import type { HealthSample } from '../model/health.js';
import { OwnerProbe } from './owners.js';
import type { OwnerSample } from '../model/owners.js';
import { Teardown } from './teardown.js';
import type { Collector } from './collector.js';

export type HookKind = 'tc' | 'xdp' | 'both';
/**
 * mmap: flow_index (hash: key -> slot) and flow_slots (an array shared with tc-top through mmap, read
 * without a system call); lru: one LRU hash with atomic adds; percpu: a per-CPU LRU hash.
 */
export type MapKind = 'mmap' | 'lru' | 'percpu';

export interface KernelCollectorOptions {
  readonly interfaces: readonly string[];
  /** tc: TC ingress + egress; xdp: XDP ingress only; both: XDP ingress + TC egress. */
  readonly hook: HookKind;
  readonly xdpMode: XdpMode;
  readonly tcMode?: TcMode;
  readonly map: MapKind;
  readonly maxFlows: number;
  /** Attach nothing (for tests that drive the programs with BPF_PROG_TEST_RUN). */
  readonly attach?: boolean;
  readonly readMethod?: ReadMethod;
  /**
   * Load the health object too (RTT, retransmits, drops: bpf/tc_top_health.bpf.o); the command
   * line's default, off with --no-tcp-stats. Only with `attach`.
   */
  readonly tcpStats?: boolean;
  /**
   * Time TCP handshakes at the hooks (the RTT of flows without a local socket); the default is
   * tcpStats. Also without `attach` (tc-top -r: the capture's handshakes).
   */
  readonly handshakes?: boolean;
  /** live (default): bpf/tc_top.bpf.o; replay: bpf/tc_top_replay.bpf.o, the batch program of tc-top -r (frames stamped with their capture time). */
  readonly object?: 'live' | 'replay';
  /** Names for interface indexes that are not the host's (a capture's frames all run on lo's index). */
  readonly interfaceNames?: ReadonlyMap<number, string>;
  /**
   * Load the owner object too (the process behind each flow: bpf/tc_top_owner.bpf.o, on the cgroup
   * v2 root); the command line's default, off with --no-processes. Only with `attach`.
   */
  readonly processes?: boolean;
}

/** What a snapshot says when health was asked for and the kernel took none of it (or only handshakes are timed): every column '-'. */
const NO_HEALTH: HealthSample = { entries: [], rtt: false, retrans: false, drops: false };

/** What a snapshot says when owners were asked for and the kernel took none of the hooks: every flow '-'. */
const NO_OWNERS: OwnerSample = { table: [], byTuple: new Map(), local: new Set() };

/** An object tc-top ships, bpf/tc_top.bpf.o (or its replay build) at the package root; never a path from the user. */
export function bundledObjectPath(object: 'live' | 'replay' = 'live'): string {
  const file = object === 'replay' ? 'tc_top_replay.bpf.o' : 'tc_top.bpf.o';
  // Run from src/ (tsx) or from dist/src/ (compiled): the package root is two or three levels up.
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, `../../bpf/${file}`), resolve(here, `../../../bpf/${file}`)];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** The map in the kernel does not match this build's layout: a clear error, never garbage counts. */
export class LayoutMismatchError extends Error {
  override readonly name = 'LayoutMismatchError';
}

/** A read's buffers, lent to the flow set made of them until it is released (the mmap kind). */
interface Lent {
  readonly sink: ValueColumns;
  /** Per row, its slot and the slot's seq (the whole arrays: the set has the part read). */
  readonly rows: Int32Array;
  readonly seqs: Uint32Array;
  /** The read's number in the slots' evicted keys. */
  readonly read: number;
}

/**
 * Entries of flow_evicted for a map of `maxFlows`: an eighth of it, a power of two, at least 4096.
 * More evictions than that between two reads (or while a row's key is asked for) lose keys.
 */
export function evictedEntries(maxFlows: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(4096, maxFlows / 8)));
}

export class KernelCollector implements Collector {
  readonly hooks: HookInfo[] = [];
  readonly notices: string[] = [];
  readonly maxFlows: number;
  readonly mapKind: MapKind;
  private readonly teardown = new Teardown();
  private readonly obj: BpfObject;
  private readonly cpus: number;
  private readonly flowSlot: number;
  private readonly counterSlot: number;
  private readonly flowsFd: number;
  private readonly countersFd: number;
  /** The hash that deleteFlows deletes from: flows, or flow_index in mmap mode. */
  private readonly indexFd: number;
  private readonly slotsFd: number;
  private readonly reader: MapReader | undefined;
  private readonly slotReader: SlotReader | undefined;
  private readonly slotBytes: ArrayBuffer | undefined;
  /** The programs' .bss (slot_hand, read around each walk of the slots; owners_written). */
  private readonly bssFd: number = -1;
  private readonly bssBuf = Buffer.alloc(Bss.size);
  private readonly counterBuf: Buffer;
  private readonly names = new Map<number, string>();
  private deleted = 0;
  /** The health object, when asked for (tcpStats) and the kernel took some of it. */
  private health: HealthProbe | undefined;
  private readonly healthAsked: boolean;
  /** The handshake timer's reader, when handshakes are timed. */
  private readonly handshakes: HandshakeReader | undefined;
  /** The owner object, when asked for (processes) and the kernel took some of it. */
  private owners: OwnerProbe | undefined;
  private readonly ownersAsked: boolean;
  /** Flows in the previous read: the next read's columns start that large. */
  private lastCount = 0;
  private closed = false;

  private constructor(opts: KernelCollectorOptions, private readonly ifaces: readonly Iface[]) {
    this.mapKind = opts.map;
    this.maxFlows = opts.maxFlows;
    this.healthAsked = opts.tcpStats === true && opts.attach !== false;
    this.ownersAsked = opts.processes === true && opts.attach !== false;
    for (const i of ifaces) this.names.set(i.index, i.name);
    for (const [index, name] of opts.interfaceNames ?? []) this.names.set(index, name);
    this.cpus = numPossibleCpus();

    this.obj = BpfObject.open(bundledObjectPath(opts.object));
    this.teardown.defer('closed the BPF object', () => this.obj.close(), true);
    try {
      const percpu = opts.map === 'percpu';
      const mmap = opts.map === 'mmap';
      // The maps of the kinds not chosen get one entry each: they cost nothing and are never read.
      this.obj.setMapType(Maps.flows, percpu ? MapType.LRU_PERCPU_HASH : MapType.LRU_HASH);
      this.obj.setMaxEntries(Maps.flows, mmap ? 1 : opts.maxFlows);
      this.obj.setMaxEntries(Maps.flowIndex, mmap ? opts.maxFlows : 1);
      this.obj.setMaxEntries(Maps.flowSlots, mmap ? opts.maxFlows : 1);
      const evicted = mmap ? evictedEntries(opts.maxFlows) : 1;
      this.obj.setMaxEntries(Maps.flowEvicted, evicted);
      const config = Buffer.alloc(Config.size);
      config.writeUInt32LE(MapMode[opts.map], Config.mapMode);
      config.writeUInt32LE(mmap ? opts.maxFlows : 0, Config.slots);
      config.writeUInt32LE(mmap ? evicted : 0, Config.evicted);
      const timeHandshakes = opts.handshakes ?? opts.tcpStats === true;
      config.writeUInt32LE(timeHandshakes ? 1 : 0, Config.handshakes);
      // The owner maps are the live object's (the replay build has none): one entry when unused.
      const live = opts.object !== 'replay';
      config.writeUInt32LE(this.ownersAsked ? 1 : 0, Config.owners);
      this.obj.setInitialValue(Maps.rodata, config);
      if (!timeHandshakes) this.obj.setMaxEntries(Maps.handshakes, 1);
      if (live && !this.ownersAsked) this.obj.setMaxEntries(Maps.owners, 1);
      // tcx needs the attach type at load; cls_bpf ignores it, so the same load serves the fallback.
      if (live) {
        this.obj.setExpectedAttachType(Programs.tcIngress, AttachType.TCX_INGRESS);
        this.obj.setExpectedAttachType(Programs.tcEgress, AttachType.TCX_EGRESS);
      }
      try {
        this.obj.load();
      } catch (err) {
        // A kernel too old for the programs answers with a verifier log: name the feature instead.
        const missing = missingRequired();
        throw missing ? new KernelFeatureError(missing) : err;
      }

      const flows = this.obj.mapInfo(Maps.flows);
      const index = this.obj.mapInfo(Maps.flowIndex);
      const slots = this.obj.mapInfo(Maps.flowSlots);
      const counters = this.obj.mapInfo(Maps.counters);
      const ring = this.obj.mapInfo(Maps.flowEvicted);
      if (
        ring.valueSize !== EvictedKey.size ||
        flows.keySize !== FlowKey.size ||
        flows.valueSize !== FlowValue.size ||
        index.keySize !== FlowKey.size ||
        slots.valueSize !== FlowSlot.size ||
        counters.valueSize !== Counters.size
      ) {
        throw new LayoutMismatchError(
          `bpf/tc_top.bpf.o does not match this tc-top (flow key ${flows.keySize}/${FlowKey.size}, value ${flows.valueSize}/${FlowValue.size}, slot ${slots.valueSize}/${FlowSlot.size}, evicted key ${ring.valueSize}/${EvictedKey.size}, counters ${counters.valueSize}/${Counters.size} bytes): rebuild it with \`npm run build:bpf\``,
        );
      }
      this.flowsFd = flows.fd;
      this.countersFd = counters.fd;
      this.indexFd = mmap ? index.fd : flows.fd;
      this.slotsFd = slots.fd;
      this.flowSlot = percpu ? perCpuSlot(FlowValue.size) : FlowValue.size;
      this.counterSlot = perCpuSlot(Counters.size);
      if (mmap) {
        const shared = mapMmap(slots.fd, opts.maxFlows * FlowSlot.size);
        // Before the object closes (teardown runs newest first); nothing reads the slots after close().
        this.teardown.defer('unmapped the flow slots', () => shared.unmap(), true);
        const left = mapMmap(ring.fd, evicted * EvictedKey.size);
        this.teardown.defer('unmapped the evicted keys', () => left.unmap(), true);
        // evicted_head, in the programs' .bss (mapped: a load per look, no system call).
        const bss = mapMmap(this.obj.mapInfo(Maps.bss).fd, Bss.size, "the programs' .bss");
        this.teardown.defer("unmapped the programs' .bss", () => bss.unmap(), true);
        const keys = new EvictedKeys(left.bytes, new Uint32Array(bss.bytes, Bss.evictedHead, 2));
        this.slotReader = new SlotReader(shared.bytes, opts.maxFlows, keys);
        this.slotBytes = shared.bytes;
      } else {
        this.reader = new MapReader(flows.fd, FlowKey.size, this.flowSlot * (percpu ? this.cpus : 1), opts.maxFlows, opts.readMethod);
      }
      const bss = this.obj.mapInfo(Maps.bss);
      if (bss.valueSize !== Bss.size) throw new LayoutMismatchError(`bpf/tc_top.bpf.o's .bss holds ${bss.valueSize} bytes, this tc-top expects ${Bss.size}: rebuild it with \`npm run build:bpf\``);
      this.bssFd = bss.fd;
      this.counterBuf = Buffer.alloc(this.counterSlot * this.cpus);
      if (timeHandshakes) {
        const hs = this.obj.mapInfo(Maps.handshakes);
        if (hs.keySize !== FlowKey.size || hs.valueSize !== Handshake.size) throw new LayoutMismatchError(`bpf/tc_top.bpf.o's handshakes map (${hs.keySize}/${hs.valueSize} bytes) does not match this tc-top: rebuild it with \`npm run build:bpf\``);
        this.handshakes = new HandshakeReader(hs.fd, hs.maxEntries, opts.maxFlows);
      }

      // Owners first: sockets are known before the first packet is counted.
      if (this.ownersAsked) {
        const shared = { owners: this.obj.mapInfo(Maps.owners).fd, sockOwners: this.obj.mapInfo(Maps.sockOwners).fd, writtenAtHook: () => this.readBss().readBigUInt64LE(Bss.ownersWritten) };
        this.owners = OwnerProbe.start(this.teardown, (msg) => this.notices.push(msg), shared);
      }
      if (opts.attach !== false) this.attachAll(opts, ifaces);
      if (this.healthAsked) this.health = HealthProbe.start(ifaces, this.teardown, (msg) => this.notices.push(msg));
    } catch (err) {
      this.teardown.run();
      throw err;
    }
  }

  /** Validate interfaces, load, attach. On any failure nothing stays attached or loaded. */
  static start(opts: KernelCollectorOptions): KernelCollector {
    const ifaces = opts.interfaces.map(resolveInterface);
    if (!Number.isInteger(opts.maxFlows) || opts.maxFlows < 1) {
      throw new RangeError(`--max-flows must be a positive integer, got ${opts.maxFlows}`);
    }
    return new KernelCollector(opts, ifaces);
  }

  private attachAll(opts: KernelCollectorOptions, ifaces: readonly Iface[]): void {
    const clsactSeen = new Set<number>();
    const tcMode = opts.tcMode ?? 'auto';
    const notice = (msg: string) => void (this.notices.includes(msg) || this.notices.push(msg)); /* once per run */
    const held = heldPrograms();
    sweepRecords(); /* released clsact records of earlier runs */
    for (const iface of ifaces) {
      const left = findLeftovers(iface, held);
      const qdisc = findLeftoverClsact(iface, left) ? 'the clsact qdisc it added' : undefined;
      if (left.length > 0) {
        notice(`${iface.name} has tc-top programs left by a run that was killed (${[...left.map(describeLeftover), ...(qdisc ? [qdisc] : [])].join(', ')}): remove them with \`tc-top --cleanup -i ${iface.name}\``);
      } else if (qdisc) {
        notice(`${iface.name} has an empty clsact qdisc that a tc-top run which was killed added: remove it with \`tc-top --cleanup -i ${iface.name}\``);
      }
    }
    for (const iface of ifaces) {
      if (opts.hook === 'xdp' || opts.hook === 'both') {
        this.hooks.push(attachXdp(iface, this.obj.programFd(Programs.xdp), opts.xdpMode, this.teardown, notice));
      }
      if (opts.hook === 'tc') {
        this.hooks.push(attachTc(iface, 'ingress', this.obj.programFd(Programs.tcIngress), tcMode, this.teardown, clsactSeen, notice));
      }
      if (opts.hook === 'tc' || opts.hook === 'both') {
        this.hooks.push(attachTc(iface, 'egress', this.obj.programFd(Programs.tcEgress), tcMode, this.teardown, clsactSeen, notice));
      }
    }
  }

  /** How the flows are read: a walk over shared memory in mmap mode, else batch or iterate. */
  get readMethod(): ReadMethod | 'mmap' {
    return this.reader?.method ?? 'mmap';
  }

  /** File descriptors of the loaded programs, for BPF_PROG_TEST_RUN: the live object's three, or the replay build's one ('batch'). */
  programFd(name: keyof typeof Programs | 'batch'): number {
    return this.obj.programFd(name === 'batch' ? ReplayProgram : Programs[name]);
  }

  get flowsMapFd(): number {
    return this.flowsFd;
  }

  /** mmap mode: flow_index (key -> slot) and flow_slots (the shared array). */
  get slotMapFds(): { index: number; slots: number } {
    return { index: this.indexFd, slots: this.slotsFd };
  }

  /** mmap mode: the slots as this process maps them (valid until close()), for benches that write flows in directly. */
  get sharedSlots(): ArrayBuffer | undefined {
    return this.closed ? undefined : this.slotBytes;
  }

  private ifname = (ifindex: number): string => {
    let name = this.names.get(ifindex);
    if (name === undefined) {
      name = ifIndexToName(ifindex) ?? `if${ifindex}`;
      this.names.set(ifindex, name);
    }
    return name;
  };

  read(): Snapshot {
    if (this.closed) throw new Error('collector is closed');
    const lost = this.ifaces.filter(gone);
    if (lost.length > 0) {
      throw new InterfaceError(`${lost.map((i) => i.name).join(', ')} disappeared while tc-top was watching it: stopping (the last update above is the final one)`);
    }
    const cpus = this.mapKind === 'percpu' ? this.cpus : 1;
    // The slots' walk writes at most one row per slot, into the buffers of a released read when
    // there is one (a million flows are 40 MB a read); a hash read grows from the last count.
    const spare = this.slotReader ? this.spare.pop() : undefined;
    const sink = spare?.sink ?? new ValueColumns(cpus, this.flowSlot, this.slotReader ? this.maxFlows : this.lastCount + 8192);
    const { keys, count, at, seqs, calm, lent } = this.readFlows(sink, spare);
    this.lastCount = count;
    if (!mapLookupElem(this.countersFd, Buffer.alloc(4), this.counterBuf)) {
      throw new BpfError('reading the counters map', 2);
    }
    const monoNs = Number(process.hrtime.bigint());
    const wallMs = Date.now();
    const slots = this.slotReader && seqs && calm ? { shared: this.slotReader, seqs, calm } : undefined;
    let flows: FlowSet = new KernelFlowSet(keys, sink.done(), this.ifname, at, slots);
    this.noticeLostKeys();
    // A get_next_key walk restarts when its key is deleted under it, and can meet a flow twice.
    if (this.reader?.method === 'iterate') flows = withoutRows(flows, (flows as KernelFlowSet).duplicates());
    // A walk of the slots meets a flow twice when, behind it, the flow was evicted and came back in
    // a slot ahead of it: a flow born during the walk, in a new slot search, which moves the hand.
    // The copy met last is the live one.
    if (this.slotReader && this.slotHandMoved) flows = withoutRows(flows, (flows as KernelFlowSet).repeatsOf(this.bornSince(flows, this.walkStartNs)));
    if (lent) this.lent.set(flows, { sink, ...lent });
    return {
      monoNs,
      wallMs,
      flows,
      counters: decodeCounters(this.counterBuf, this.cpus, this.counterSlot),
      maxFlows: this.maxFlows,
      flowsDeleted: this.deleted,
      ...this.healthOf(),
      ...(this.ownersAsked ? { owners: this.owners?.read() ?? NO_OWNERS } : {}),
    };
  }

  /** The health sample: the health object's entries, then the handshakes timed at the hooks (listed last: a socket's RTT wins). */
  private healthOf(): { health?: HealthSample } {
    if (!this.healthAsked && !this.handshakes) return {};
    const sample = (this.healthAsked && this.health?.read()) || NO_HEALTH;
    if (!this.handshakes) return { health: sample };
    return { health: { ...sample, entries: [...sample.entries, ...this.handshakes.read()], rtt: true } };
  }

  /** Keys lost so far (the ring of evicted keys overwritten before tc-top took them): said once. */
  private lostSaid = false;

  private noticeLostKeys(): void {
    const lost = this.slotReader?.evicted.lost ?? 0;
    if (lost === 0 || this.lostSaid) return;
    this.lostSaid = true;
    this.notices.push(`${lost} flows were evicted from the full flow map faster than tc-top read them: their rows show a key of zeros (raise --max-flows)`);
  }

  /** Whether a new flow's slot search began during the last walk of the slots. */
  private slotHandMoved = false;

  private slotHand(): number {
    return this.readBss().readUInt32LE(Bss.slotHand);
  }

  /** The programs' .bss (slot_hand, owners_written), read now. */
  private readBss(): Buffer {
    if (!mapLookupElem(this.bssFd, Buffer.alloc(4), this.bssBuf)) throw new BpfError("reading the programs' .bss", 2);
    return this.bssBuf;
  }

  /** CLOCK_MONOTONIC when the last walk of the slots began. */
  private walkStartNs = 0;

  /**
   * Rows whose flow was first seen at `ns` or later, by the programs' clock: the coarse one, up to
   * a jiffy (10 ms at HZ=100) behind the monotonic clock, hence the margin.
   */
  private bornSince(flows: FlowSet, ns: number): number[] {
    const from = ns - 50e6;
    const rows: number[] = [];
    const first = flows.firstSeenNs;
    for (let i = 0; i < flows.length; i++) if ((first[i] as number) >= from) rows.push(i);
    return rows;
  }

  /**
   * The buffers of a read (mmap kind), by the flow set made of them, until released (with the read's
   * number in the evicted keys); and those released.
   */
  private readonly lent = new WeakMap<FlowSet, Lent>();
  private readonly spare: Omit<Lent, 'read'>[] = [];

  release(snapshot: Snapshot): void {
    const buffers = this.lent.get(snapshot.flows);
    if (!buffers) return;
    this.lent.delete(snapshot.flows);
    this.slotReader?.release(buffers.read);
    // Two are enough: the next read's, and one more while a tick is held.
    if (this.spare.length < 2) this.spare.push({ sink: buffers.sink, rows: buffers.rows, seqs: buffers.seqs });
  }

  private readFlows(sink: ValueColumns, spare?: Omit<Lent, 'read' | 'sink'>): MapEntries & { at?: Int32Array; seqs?: Uint32Array; calm?: Calm; lent?: Omit<Lent, 'sink'> } {
    if (this.slotReader) {
      this.walkStartNs = Number(process.hrtime.bigint());
      const hand = this.slotHand();
      const rows = spare?.rows ?? new Int32Array(this.maxFlows);
      const seqs = spare?.seqs ?? new Uint32Array(this.maxFlows);
      const walk = this.slotReader.read(sink, rows, seqs);
      this.slotHandMoved = this.slotHand() !== hand;
      return { keys: this.slotReader.bytes, values: Buffer.alloc(0), count: walk.count, at: walk.at, seqs: walk.seqs, calm: walk.calm, lent: { rows, seqs, read: walk.read } };
    }
    return (this.reader as MapReader).read(sink);
  }

  /** Delete flows (idle expiry) by their key. Returns how many were still there to delete. */
  deleteFlows(keys: readonly string[]): number {
    if (this.closed) throw new Error('collector is closed');
    let n = 0;
    const slot = Buffer.alloc(4);
    for (const k of keys) {
      const key = Buffer.from(k, 'hex');
      if (this.slotReader) {
        // Its slot from flow_index; freed only if it still holds this flow and nobody rewrites it.
        if (!mapLookupElem(this.indexFd, key, slot)) continue;
        if (this.slotReader.free(slot.readUInt32LE(), key, () => mapDeleteElem(this.indexFd, key))) n++;
      } else if (mapDeleteElem(this.indexFd, key)) n++;
    }
    this.health?.deleteFlows(keys);
    this.handshakes?.deleteFlows(keys);
    this.deleted += n;
    return n;
  }

  /** Detach every hook and unload, newest first. Returns one line per released resource. */
  close(): string[] {
    if (this.closed) return [];
    this.closed = true;
    return this.teardown
      .run()
      .filter((r) => !r.quiet || r.error)
      .map((r) => (r.error ? `${r.label.replace(/^detached/, 'failed to detach')}: ${r.error.message}` : r.label));
  }
}
