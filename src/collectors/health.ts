/**
 * The health object (bpf/tc_top_health.bpf.o): RTT and retransmissions per TCP socket, drops per
 * flow and reason. Loaded beside the counter object unless --no-tcp-stats; each program attaches
 * on its own, and one the kernel refuses costs one notice and its columns show '-'.
 *
 * Each read advances the RTT interval (`epoch` in the object's .bss) and then reads the bank the
 * programs wrote until then, so the interval's min and max need no reset and no read-and-delete
 * while the kernel writes: samples after the switch go to the other bank.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../ffi/errors.js';
import { DropKey, FlowKey, HealthConfig, HealthKey, HealthMaps, HealthPrograms, HealthValue, perCpuSlot } from '../ffi/layout.js';
import { BpfObject, ifIndexToName, mapDeleteElem, mapUpdateElem, numPossibleCpus } from '../ffi/libbpf.js';
import type { HealthEntry, HealthSample } from '../model/health.js';
import { Btf, dropReasonNames } from './btf.js';
import type { Iface } from './interfaces.js';
import { MapReader } from './map-reader.js';
import type { Teardown } from './teardown.js';

/** bpf/tc_top_health.bpf.o at the package root (from src/ or dist/src/). */
export function healthObjectPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../bpf/tc_top_health.bpf.o'), resolve(here, '../../../bpf/tc_top_health.bpf.o')];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

const TWO_32 = 2 ** 32;
const IPPROTO_TCP = 6;

type Part = 'rtt' | 'retrans' | 'drops';

/** Which program serves which part, as the running kernel's tracepoints allow. */
function programsFor(btf: Btf): { programs: Map<string, Part>; skipped: string[] } {
  const programs = new Map<string, Part>();
  const skipped: string[] = [];
  if (btf.tracepointArgs('tcp_probe') !== undefined) programs.set(HealthPrograms.rtt, 'rtt');
  else skipped.push('RTT (no tcp_probe tracepoint)');
  const retrans = btf.tracepointArgs('tcp_retransmit_skb');
  if (retrans !== undefined) programs.set(retrans >= 3 ? HealthPrograms.retransErr : HealthPrograms.retrans, 'retrans');
  else skipped.push('retransmits (no tcp_retransmit_skb tracepoint)');
  if ((btf.tracepointArgs('kfree_skb') ?? 0) >= 3) programs.set(HealthPrograms.drop, 'drops');
  else skipped.push('drops (no kfree_skb tracepoint with a drop reason)');
  return { programs, skipped };
}

function errorText(err: unknown): string {
  return err instanceof BpfError ? err.code : err instanceof Error ? err.message : String(err);
}

/** One load of the object with these programs; the object is closed on failure. */
function loadWith(config: Buffer, programs: readonly string[]): BpfObject {
  const obj = BpfObject.open(healthObjectPath());
  try {
    for (const name of Object.values(HealthPrograms)) obj.setAutoload(name, programs.includes(name));
    obj.setInitialValue(HealthMaps.rodata, config);
    obj.load();
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

export class HealthProbe {
  private readonly cpus = numPossibleCpus();
  private readonly slot = perCpuSlot(HealthValue.size);
  private readonly healthFd: number;
  private readonly dropsFd: number;
  private readonly bssFd: number;
  private readonly healthReader: MapReader;
  private readonly dropsReader: MapReader;
  private readonly reasons: Map<number, string>;
  private epoch = 0;
  private readonly epochBuf = Buffer.alloc(4);
  /** The drop keys of the last read, by their flow (dir 0, hex): deleted with the flow. */
  private dropKeys = new Map<string, Buffer[]>();
  readonly parts: Readonly<Record<Part, boolean>>;

  private constructor(
    obj: BpfObject,
    private readonly ifaces: readonly Iface[],
    btf: Btf,
    parts: Record<Part, boolean>,
  ) {
    this.parts = parts;
    this.reasons = dropReasonNames(btf);
    const health = obj.mapInfo(HealthMaps.health);
    const drops = obj.mapInfo(HealthMaps.drops);
    const bss = obj.mapInfo(HealthMaps.bss);
    if (health.keySize !== HealthKey.size || health.valueSize !== HealthValue.size || drops.keySize !== DropKey.size || drops.valueSize !== 8 || bss.valueSize !== 4) {
      throw new Error(`bpf/tc_top_health.bpf.o does not match this tc-top (health ${health.keySize}/${health.valueSize}, drops ${drops.keySize}/${drops.valueSize}, .bss ${bss.valueSize}): rebuild it with \`npm run build:bpf\``);
    }
    this.healthFd = health.fd;
    this.dropsFd = drops.fd;
    this.bssFd = bss.fd;
    this.healthReader = new MapReader(health.fd, HealthKey.size, this.slot * this.cpus, health.maxEntries);
    this.dropsReader = new MapReader(drops.fd, DropKey.size, 8, drops.maxEntries);
    const watched = obj.mapInfo(HealthMaps.watched);
    for (const iface of ifaces) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(iface.index);
      mapUpdateElem(watched.fd, key, Buffer.from([1]));
    }
  }

  /**
   * Load and attach what the kernel takes. Returns undefined (after a notice) when nothing of it
   * can run; every resource is on `teardown`.
   */
  static start(ifaces: readonly Iface[], teardown: Teardown, notice: (msg: string) => void): HealthProbe | undefined {
    let btf: Btf;
    try {
      btf = Btf.fromFile();
    } catch (err) {
      notice(`no RTT, retransmits or drops: the kernel's BTF could not be read (${errorText(err)})`);
      return undefined;
    }
    const { programs, skipped } = programsFor(btf);
    const reasons = btf.enumValues('skb_drop_reason');
    const value = (name: string, fallback: number): number => [...(reasons ?? [])].find(([, n]) => n === name)?.[0] ?? fallback;
    const config = Buffer.alloc(HealthConfig.size);
    config.writeUInt32LE(statSync('/proc/self/ns/net').ino, HealthConfig.netnsIno);
    config.writeUInt32LE(value('SKB_NOT_DROPPED_YET', 0), HealthConfig.reasonNotDropped);
    config.writeUInt32LE(value('SKB_CONSUMED', 1), HealthConfig.reasonConsumed);
    config.writeUInt32LE(value('SKB_DROP_REASON_NOT_SPECIFIED', 2), HealthConfig.reasonNotSpecified);

    // Load all; if the verifier refuses one, find which by loading each alone, and go without it.
    let names = [...programs.keys()];
    let obj: BpfObject | undefined;
    try {
      obj = loadWith(config, names);
    } catch (err) {
      const refused = names.filter((name) => {
        try {
          loadWith(config, [name]).close();
          return false;
        } catch (e) {
          skipped.push(`${programs.get(name)} (${errorText(e)})`);
          return true;
        }
      });
      names = names.filter((n) => !refused.includes(n));
      if (refused.length === 0 || names.length === 0) {
        notice(`no RTT, retransmits or drops: the kernel refused the health programs (${errorText(err)})`);
        return undefined;
      }
      obj = loadWith(config, names);
    }
    teardown.defer('closed the health object', () => obj.close(), true);
    const parts: Record<Part, boolean> = { rtt: false, retrans: false, drops: false };
    const probe = new HealthProbe(obj, ifaces, btf, parts);
    for (const name of names) {
      const part = programs.get(name) as Part;
      try {
        teardown.defer(`detached ${name}`, obj.attach(name), true);
        parts[part] = true;
      } catch (err) {
        skipped.push(`${part} (${errorText(err)})`);
      }
    }
    if (skipped.length > 0) notice(`the kernel refused part of the health hooks, shown as '-': ${skipped.join('; ')}`);
    return Object.values(parts).some(Boolean) ? probe : undefined;
  }

  /** Advance the RTT interval, then read both maps. */
  read(): HealthSample {
    const ended = this.epoch;
    this.epoch = (this.epoch + 1) >>> 0;
    this.epochBuf.writeUInt32LE(this.epoch);
    mapUpdateElem(this.bssFd, Buffer.alloc(4), this.epochBuf);
    const entries: HealthEntry[] = [];
    if (this.parts.rtt || this.parts.retrans) this.readSockets(ended, entries);
    if (this.parts.drops) this.readDrops(entries);
    return { entries, ...this.parts };
  }

  private readSockets(ended: number, out: HealthEntry[]): void {
    const { keys, values, count } = this.healthReader.read();
    const slot = this.slot;
    const bank = HealthValue.bank + (ended & 1) * HealthValue.bankSize;
    for (let e = 0; e < count; e++) {
      const key = keys.subarray(e * HealthKey.size, (e + 1) * HealthKey.size);
      let retrans = 0;
      let latest = -1;
      let last = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let c = 0; c < this.cpus; c++) {
        const o = (e * this.cpus + c) * slot;
        retrans += values.readUInt32LE(o + HealthValue.retrans) + values.readUInt32LE(o + HealthValue.retrans + 4) * TWO_32;
        const ns = Number(values.readBigUInt64LE(o + HealthValue.rttNs));
        if (ns > 0 && ns > latest) {
          latest = ns;
          last = values.readUInt32LE(o + HealthValue.rttLastUs);
        }
        const b = o + bank;
        if (values.readUInt32LE(b + HealthValue.bankEpoch) === ended && values.readUInt32LE(b + HealthValue.bankSamples) > 0) {
          min = Math.min(min, values.readUInt32LE(b + HealthValue.bankMinUs));
          max = Math.max(max, values.readUInt32LE(b + HealthValue.bankMaxUs));
        }
      }
      const rtt = latest > 0 && this.parts.rtt ? { last, ...(min <= max ? { min, max } : {}) } : undefined;
      out.push({
        id: `s${key.toString('hex')}`,
        flows: this.socketFlows(key),
        rtt,
        retrans: this.parts.retrans ? retrans : undefined,
      });
    }
  }

  /** The flows of a socket on every watched interface: local -> remote at egress, remote -> local at ingress. */
  private socketFlows(key: Buffer): string[] {
    const out: string[] = [];
    const local = key.subarray(HealthKey.local, HealthKey.local + 16);
    const remote = key.subarray(HealthKey.remote, HealthKey.remote + 16);
    const lport = key.readUInt16LE(HealthKey.lport);
    const rport = key.readUInt16LE(HealthKey.rport);
    for (const iface of this.ifaces) {
      out.push(flowKeyHex(key[HealthKey.family] as number, key[HealthKey.proto] as number, 1, iface.index, local, remote, lport, rport));
      out.push(flowKeyHex(key[HealthKey.family] as number, key[HealthKey.proto] as number, 0, iface.index, remote, local, rport, lport));
    }
    return out;
  }

  private readDrops(out: HealthEntry[]): void {
    const { keys, values, count } = this.dropsReader.read();
    const byFlow = new Map<string, { reasons: Map<string, number>; keys: Buffer[]; ifindex: number }>();
    for (let e = 0; e < count; e++) {
      const key = Buffer.from(keys.subarray(e * DropKey.size, (e + 1) * DropKey.size));
      const flow = key.toString('hex', 0, FlowKey.size);
      const reason = key.readUInt32LE(DropKey.reason);
      const name = this.reasons.get(reason) ?? `reason_${reason}`;
      const n = values.readUInt32LE(e * 8) + values.readUInt32LE(e * 8 + 4) * TWO_32;
      let entry = byFlow.get(flow);
      if (!entry) {
        entry = { reasons: new Map(), keys: [], ifindex: key.readUInt32LE(FlowKey.ifindex) };
        byFlow.set(flow, entry);
      }
      entry.reasons.set(name, (entry.reasons.get(name) ?? 0) + n);
      entry.keys.push(key);
    }
    this.dropKeys = new Map();
    for (const [flow, entry] of byFlow) {
      this.dropKeys.set(flow, entry.keys);
      const egress = Buffer.from(flow, 'hex');
      egress[FlowKey.dir] = 1;
      out.push({
        id: `d${flow}`,
        flows: [flow, egress.toString('hex')],
        ifname: this.ifaces.find((i) => i.index === entry.ifindex)?.name ?? ifIndexToName(entry.ifindex) ?? `if${entry.ifindex}`,
        drops: entry.reasons,
      });
    }
  }

  /** Forget the health of expired flows (keys as FlowRecord.key): their socket's entry and their drops. */
  deleteFlows(keys: readonly string[]): void {
    for (const hex of keys) {
      const k = Buffer.from(hex, 'hex');
      const dir = k[FlowKey.dir];
      if (k[FlowKey.proto] === IPPROTO_TCP) {
        const src = k.subarray(FlowKey.src, FlowKey.src + 16);
        const dst = k.subarray(FlowKey.dst, FlowKey.dst + 16);
        const sport = k.readUInt16LE(FlowKey.sport);
        const dport = k.readUInt16LE(FlowKey.dport);
        const key = Buffer.alloc(HealthKey.size);
        key[HealthKey.family] = k[FlowKey.family] as number;
        key[HealthKey.proto] = IPPROTO_TCP;
        (dir === 1 ? src : dst).copy(key, HealthKey.local);
        (dir === 1 ? dst : src).copy(key, HealthKey.remote);
        key.writeUInt16LE(dir === 1 ? sport : dport, HealthKey.lport);
        key.writeUInt16LE(dir === 1 ? dport : sport, HealthKey.rport);
        mapDeleteElem(this.healthFd, key);
      }
      k[FlowKey.dir] = 0;
      for (const dk of this.dropKeys.get(k.toString('hex')) ?? []) mapDeleteElem(this.dropsFd, dk);
    }
  }
}

function flowKeyHex(family: number, proto: number, dir: number, ifindex: number, src: Buffer, dst: Buffer, sport: number, dport: number): string {
  const k = Buffer.alloc(FlowKey.size);
  k[FlowKey.family] = family;
  k[FlowKey.proto] = proto;
  k[FlowKey.dir] = dir;
  k.writeUInt32LE(ifindex, FlowKey.ifindex);
  src.copy(k, FlowKey.src);
  dst.copy(k, FlowKey.dst);
  k.writeUInt16LE(sport, FlowKey.sport);
  k.writeUInt16LE(dport, FlowKey.dport);
  return k.toString('hex');
}
