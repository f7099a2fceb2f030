/**
 * The mmap map kind (tc-top's default): flows in slots of an array shared with userspace. The
 * walk over the slots (SlotReader) on crafted memory, and the programs' slot search on the real
 * kernel: exact counts for flows that stay, least recently seen evicted, expiry frees a slot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EvictedKey, FlowKey, FlowSlot, FlowValue } from '../src/ffi/layout.js';
import { EvictedKeys } from '../src/collectors/evicted-keys.js';
import { SlotReader, type SlotRead } from '../src/collectors/slot-reader.js';
import { KernelFlowSet, ValueColumns } from '../src/collectors/kernel-flows.js';
import type { FlowSet } from '../src/model/flow-set.js';
import { kernelTest } from './helpers/netns.js';
import { frame } from './helpers/packets.js';

/** Slot i of a crafted array: an IPv4 UDP key with sport = 1000 + i, `packets` packets. */
function put(mem: Buffer, i: number, packets: number, seq = 2): void {
  const at = i * FlowSlot.size;
  mem[at + FlowKey.family] = 4;
  mem[at + FlowKey.proto] = 17;
  mem.writeUInt16LE(1000 + i, at + FlowKey.sport);
  mem.writeBigUInt64LE(BigInt(packets), at + FlowSlot.value + FlowValue.packets);
  mem.writeUInt32LE(seq, at + FlowSlot.value + FlowValue.seq);
}

/** The source ports of a read's rows, read in their slots now. */
function sports(e: { at: Int32Array }, mem: Buffer): number[] {
  return Array.from(e.at, (slot) => mem.readUInt16LE(slot * FlowSlot.size + FlowKey.sport));
}

describe('SlotReader over crafted slots', () => {
  it('returns the slots in use, in slot order, skipping free slots and slots being rewritten (odd seq)', () => {
    const mem = Buffer.alloc(10 * FlowSlot.size);
    for (const i of [0, 3, 4, 7, 9]) put(mem, i, 10 + i);
    put(mem, 4, 14, 5); /* being rewritten */
    const r = new SlotReader(mem.buffer.slice(mem.byteOffset, mem.byteOffset + mem.length) as ArrayBuffer, 10);
    const sink = new ValueColumns(1, FlowValue.size, 4);
    const e = r.read(sink);
    assert.equal(e.count, 4);
    assert.deepEqual(sports(e, mem), [1000, 1003, 1007, 1009]);
    assert.deepEqual([...e.at], [0, 3, 7, 9]);
    assert.deepEqual([...e.seqs], [2, 2, 2, 2]);
    assert.deepEqual([...sink.done().packets], [10, 13, 17, 19]);
    assert.equal(r.busy, 1);
  });

  it('reads 64-bit counters whole, also next to a carry into the high word', () => {
    const mem = Buffer.alloc(3 * FlowSlot.size);
    const big = [0x1_ffff_fff0n, 0x7_0000_0003n, 0x2_8000_0000n];
    big.forEach((b, i) => {
      put(mem, i, 0);
      mem.writeBigUInt64LE(b, i * FlowSlot.size + FlowSlot.value + FlowValue.packets);
      mem.writeBigUInt64LE(b * 1000n, i * FlowSlot.size + FlowSlot.value + FlowValue.bytes);
    });
    const sink = new ValueColumns(1, FlowValue.size, 3);
    new SlotReader(mem.buffer.slice(mem.byteOffset, mem.byteOffset + mem.length) as ArrayBuffer, 3).read(sink);
    assert.deepEqual([...sink.done().packets], big.map(Number));
    assert.deepEqual([...sink.done().bytes], big.map((b) => Number(b * 1000n)));
  });

  it('reads 20,000 slots, every other one in use', () => {
    const n = 20_000;
    const mem = Buffer.alloc(n * FlowSlot.size);
    for (let i = 0; i < n; i += 2) put(mem, i, i);
    const r = new SlotReader(mem.buffer.slice(mem.byteOffset, mem.byteOffset + mem.length) as ArrayBuffer, n);
    const sink = new ValueColumns(1, FlowValue.size, 16);
    const e = r.read(sink);
    assert.equal(e.count, n / 2);
    const packets = sink.done().packets;
    for (let k = 0; k < e.count; k++) assert.equal(packets[k], 2 * k);
  });

  it('frees a slot only while it holds the key asked for and nobody rewrites it', () => {
    const mem = Buffer.alloc(4 * FlowSlot.size);
    for (const i of [0, 1, 2]) put(mem, i, 5);
    put(mem, 2, 5, 7); /* odd: being rewritten */
    const ab = mem.buffer.slice(mem.byteOffset, mem.byteOffset + mem.length) as ArrayBuffer;
    const view = Buffer.from(ab);
    const r = new SlotReader(ab, 4);
    const key = (i: number) => Buffer.from(view.subarray(i * FlowSlot.size, i * FlowSlot.size + FlowKey.size));
    let unindexed = 0;
    const unindex = () => (unindexed++, true);
    assert.equal(r.free(1, key(0), unindex), false, 'another flow holds slot 1');
    assert.equal(r.free(2, key(2), unindex), false, 'slot 2 is being rewritten');
    assert.equal(r.free(9, key(0), unindex), false, 'no slot 9');
    assert.equal(unindexed, 0);
    const seq = view.readUInt32LE(FlowSlot.size + FlowSlot.value + FlowValue.seq);
    assert.equal(r.free(1, key(1), unindex), true);
    assert.equal(unindexed, 1);
    assert.equal(view[FlowSlot.size + FlowKey.family], 0, 'slot 1 is free');
    assert.equal(view.readUInt32LE(FlowSlot.size + FlowSlot.value + FlowValue.seq), seq + 2, 'seq went odd and even again');
    assert.equal(r.evicted.key(1, seq)?.readUInt16LE(FlowKey.sport), 1001, 'its key kept for the reads that met it');
    assert.equal(r.read(new ValueColumns(1, FlowValue.size, 4)).count, 1, 'slot 0 left (2 is still busy)');
    // A claim that frees nothing (the index refused) leaves seq as it was: the key did not move.
    const seq0 = view.readUInt32LE(FlowSlot.value + FlowValue.seq);
    assert.equal(r.free(0, key(0), () => false), false);
    assert.equal(view.readUInt32LE(FlowSlot.value + FlowValue.seq), seq0);
    assert.equal(view[FlowKey.family], 4, 'slot 0 still holds its flow');
  });
});

describe('keys in place: a row reads its slot while the slot keeps its seq, then the keys that left', () => {
  /** n crafted slots, and a ring of `ring` evicted keys written as the programs write it (bpf/tc_top.h). */
  const bed = (n: number, ring = 4) => {
    const mem = Buffer.alloc(n * FlowSlot.size);
    const ab = mem.buffer.slice(mem.byteOffset, mem.byteOffset + mem.length) as ArrayBuffer;
    const view = Buffer.from(ab);
    const ringAb = new ArrayBuffer(ring * EvictedKey.size);
    const ringView = Buffer.from(ringAb);
    const head = new Uint32Array(2);
    const keys = new EvictedKeys(ringAb, head);
    const r = new SlotReader(ab, n, keys);
    /** Slot i now holds the flow with source port `sport`, with this seq. */
    const hold = (i: number, sport: number, seq: number) => {
      put(view, i, 1, seq);
      view.writeUInt16LE(sport, i * FlowSlot.size + FlowKey.sport);
    };
    /** The programs evict slot i's flow (to the ring, unless `unwritten`) and give the slot to `sport`. */
    const evict = (i: number, sport: number, unwritten = false) => {
      const at = i * FlowSlot.size;
      const seq = view.readUInt32LE(at + FlowSlot.value + FlowValue.seq);
      if (!unwritten) {
        const e = ((head[0] as number) % ring) * EvictedKey.size;
        view.copy(ringView, e + EvictedKey.key, at, at + FlowKey.size);
        ringView.writeUInt32LE(i, e + EvictedKey.slot);
        ringView.writeUInt32LE(seq, e + EvictedKey.seq);
        ringView.writeBigUInt64LE(BigInt((head[0] as number) + 1), e + EvictedKey.stamp);
      }
      head[0]!++;
      hold(i, sport, seq + 2);
    };
    const set = (e: SlotRead, sink: ValueColumns) => new KernelFlowSet(r.bytes, sink.done(), () => 'x', e.at, { shared: r, seqs: e.seqs, calm: e.calm });
    const take = () => {
      const sink = new ValueColumns(1, FlowValue.size, 16);
      const e = r.read(sink);
      return { e, set: set(e, sink) };
    };
    const ports = (f: FlowSet) => Array.from({ length: f.length }, (_, i) => f.record(i).sport);
    return { view, ringView, r, keys, hold, evict, take, ports };
  };

  it('copies no key: a row reads its slot, and a read held while its flows are evicted reads them from the ring', () => {
    const { hold, evict, take, ports, keys } = bed(4, 8);
    hold(0, 7000, 2);
    hold(2, 7002, 2);
    const held = take();
    assert.deepEqual(ports(held.set), [7000, 7002]);
    evict(0, 8000);
    evict(2, 8002);
    evict(2, 9002); /* twice while the read is held: its key is the first one's */
    const now = take();
    assert.deepEqual(ports(now.set), [8000, 9002]);
    // A fresh set of the held read, as a view reading it again later: every key from the ring.
    assert.equal(held.set.sport(0), 7000);
    assert.equal(held.set.sport(1), 7002);
    assert.equal(held.set.keyAt(1).length, 96);
    // A subset (the rows left after expiry) keeps the keys its rows took.
    assert.deepEqual(ports(held.set.subset([1])), [7002]);
    assert.equal(keys.lost, 0);
  });

  it('keeps a key until every read that may ask for it is released', () => {
    const { hold, evict, take, r, keys } = bed(2, 16);
    hold(0, 7000, 2);
    const held = take();
    for (let k = 1; k <= 10; k++) {
      evict(0, 7000 + k);
      const e = take();
      assert.equal(e.set.sport(0), 7000 + k);
      r.release(e.e.read);
    }
    assert.equal(keys.size, 10, 'kept while the first read is held');
    assert.equal(held.set.sport(0), 7000);
    r.release(held.e.read);
    take(); /* a read begun now sees only the slot's present */
    assert.equal(keys.size, 0);
    assert.equal(held.set.sport(0), 7000, 'a key the set took stays its own');
  });

  it('a key the ring lost (overwritten before it was read, or never written) reads as zeros, counted', () => {
    const { hold, evict, take, keys } = bed(8, 4);
    for (let i = 0; i < 6; i++) hold(i, 100 + i, 2);
    const held = take();
    for (let i = 0; i < 6; i++) evict(i, 200 + i); /* six through a ring of four, no read between */
    assert.deepEqual(
      Array.from({ length: 6 }, (_, i) => held.set.sport(i)),
      [0, 0, 102, 103, 104, 105],
    );
    assert.equal(keys.lost, 2, 'the two entries overwritten');
    hold(7, 300, 2);
    const again = take();
    evict(7, 301, true);
    assert.equal(again.set.sport(again.set.length - 1), 0);
  });

  it('an entry still being written is taken once whole', () => {
    const { hold, evict, ringView, take, keys } = bed(2, 4);
    hold(0, 500, 2);
    const held = take();
    evict(0, 501);
    ringView.writeBigUInt64LE(0n, EvictedKey.stamp); /* its program is between the two writes of the stamp */
    assert.equal(keys.key(0, 2), undefined);
    ringView.writeBigUInt64LE(1n, EvictedKey.stamp);
    assert.equal(keys.key(0, 2)?.readUInt16LE(FlowKey.sport), 500);
    assert.equal(held.set.sport(0), 500);
  });

  it('matches two reads by slot and seq, then by key: a flow in a new slot, one gone, one new, one slot reused', () => {
    const { hold, evict, view, take, r } = bed(8, 8);
    for (const i of [0, 1, 2, 3, 6]) hold(i, 200 + i, 2);
    const a = take().set;
    assert.equal(r.free(1, Buffer.from(view.subarray(FlowSlot.size, FlowSlot.size + FlowKey.size)), () => true), true); /* 201 gone (expired) */
    evict(3, 0); /* 203 evicted ... */
    view.fill(0, 3 * FlowSlot.size, 4 * FlowSlot.size);
    view.writeUInt32LE(4, 3 * FlowSlot.size + FlowSlot.value + FlowValue.seq);
    hold(5, 203, 2); /* ... and back in slot 5 */
    hold(4, 299, 2); /* new */
    evict(6, 266); /* slot 6: another flow under a new seq */
    const b = take().set;
    assert.deepEqual(Array.from({ length: b.length }, (_, i) => b.sport(i)), [200, 202, 299, 203, 266]);
    const fast = a.matchLater(b)!;
    assert.deepEqual([...fast], [0, 2, -1, 3, -1]);
    assert.deepEqual([...fast], Array.from({ length: b.length }, (_, j) => a.indexOfKey(b.keyAt(j))), 'as a match by key');
    assert.deepEqual([...a.matchLater(b)!], [...fast], 'the same again (its scratch is left clean)');
    assert.deepEqual([...b.matchLater(a)!], [0, -1, 1, 3, -1], 'and the other way');
  });
});

describe("the flow sets' fast check", () => {
  it('V8 loads a typed array\'s word again at each turn of a loop (it does not keep the first load): a write from elsewhere is seen', async () => {
    // KernelFlowSet.fast() reads the programs' evicted_head with a plain load after each key field.
    const { Worker } = await import('node:worker_threads');
    const sab = new SharedArrayBuffer(8);
    const words = new Uint32Array(sab);
    const worker = new Worker(`const { workerData } = require('node:worker_threads'); setTimeout(() => { new Uint32Array(workerData)[0] = 1; }, 200);`, { eval: true, workerData: sab });
    try {
      const rows = new Int32Array(512);
      const seen = (w: Uint32Array): boolean => w[0] === 0;
      let n = 0;
      while (seen(words) && n < 2e9) rows[n++ & 511] = n;
      assert.ok(n < 2e9, 'the loop never saw the write');
    } finally {
      await worker.terminate();
    }
  });
});

describe('mmap slots on the real kernel', kernelTest(), () => {
  const udp = (i: number) => frame({ ip: { v: 4, src: '10.9.0.1', dst: '10.9.0.2' }, l4: { kind: 'udp', sport: 1000 + i, dport: 53 } });

  async function withSlots(maxFlows: number, body: (c: import('../src/collectors/kernel-collector.js').KernelCollector, send: (i: number, times?: number) => void) => Promise<void>) {
    const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
    const { progTestRun } = await import('../src/ffi/libbpf.js');
    const c = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map: 'mmap', maxFlows, attach: false });
    try {
      const fd = c.programFd('xdp');
      await body(c, (i, times = 1) => {
        for (let t = 0; t < times; t++) progTestRun(fd, udp(i));
      });
    } finally {
      c.close();
    }
  }
  const live = (c: { read(): { flows: { length: number; record(i: number): { sport: number; packets: number } } } }) => {
    const s = c.read();
    return new Map(Array.from({ length: s.flows.length }, (_, i) => s.flows.record(i)).map((r) => [r.sport - 1000, r.packets]));
  };

  it('1,000 flows through 256 slots: never more than 256 live, each live flow counted exactly', () =>
    withSlots(256, async (c, send) => {
      for (let i = 0; i < 1000; i++) send(i, 3);
      const s = c.read();
      const flows = live(c);
      assert.equal(flows.size, 256);
      for (const [i, packets] of flows) assert.equal(packets, 3, `flow ${i}`);
      assert.equal(s.counters.flowsCreated, 1000);
      assert.equal(s.counters.updateFailed, 0);
      assert.equal(s.counters.packetsIn, 3000);
    }));

  it('with as many slots as probes, the least recently seen flow is the one evicted', () =>
    withSlots(8, async (c, send) => {
      for (let i = 0; i < 8; i++) send(i);
      await sleep(30); /* the programs' clock is the coarse one: a few jiffies */
      for (let i = 0; i < 7; i++) send(i); /* all but flow 7 seen again */
      send(8);
      assert.deepEqual([...live(c).keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 8]);
      await sleep(30);
      for (const i of [0, 1, 2, 3, 4, 5, 8]) send(i); /* now flow 6 is the oldest */
      send(9);
      assert.deepEqual([...live(c).keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 8, 9]);
      assert.equal(live(c).get(0), 3);
    }));

  it('a read held while its flows leave their slots (evicted by the programs, or expired by tc-top) still reads their keys', () =>
    withSlots(8, async (c, send) => {
      for (let i = 0; i < 8; i++) send(i, 2);
      const held = c.read();
      const rows = Array.from({ length: held.flows.length }, (_, i) => i);
      const sports = rows.map((i) => held.flows.sport(i));
      const keys = rows.map((i) => held.flows.keyAt(i));
      assert.deepEqual([...sports].sort((a, b) => a - b), [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007]);
      assert.equal(c.deleteFlows([keys[sports.indexOf(1003)]!]), 1);
      await sleep(30); /* the programs' clock is the coarse one: the new flows are seen later */
      for (let i = 8; i < 16; i++) send(i); /* one takes the freed slot, seven evict */
      const now = c.read();
      assert.deepEqual(Array.from({ length: now.flows.length }, (_, i) => now.flows.sport(i)).sort((a, b) => a - b), [1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015]);
      assert.deepEqual(rows.map((i) => held.flows.sport(i)), sports, 'the held read, as it was read');
      assert.deepEqual(rows.map((i) => held.flows.record(i).key), keys);
      assert.deepEqual(rows.map((i) => held.flows.record(i).packets), rows.map(() => 2));
      c.release(held);
      c.release(now);
    }));

  it('an expired flow frees its slot: the next new flow takes it, nothing is evicted', () =>
    withSlots(8, async (c, send) => {
      for (let i = 0; i < 8; i++) send(i, 2);
      const s = c.read();
      const three = Array.from({ length: s.flows.length }, (_, i) => s.flows.record(i)).find((r) => r.sport === 1003)!;
      assert.equal(c.deleteFlows([three.key]), 1);
      assert.equal(c.deleteFlows([three.key]), 0, 'already gone');
      send(100);
      const after = live(c);
      assert.deepEqual([...after.keys()].sort((a, b) => a - b), [0, 1, 2, 4, 5, 6, 7, 100]);
      for (const i of [0, 1, 2, 4, 5, 6, 7]) assert.equal(after.get(i), 2, `flow ${i} kept its count`);
      send(3); /* the expired flow comes back as a new flow, evicting one */
      assert.equal(live(c).get(3), 1);
      assert.equal(live(c).size, 8);
    }));
});

describe('mmap slots with both CPUs creating and evicting flows at once', kernelTest(), () => {
  it('4,000 flows, 60,000 frames from two pinned processes through 512 slots: the index and the slots agree, every frame counted once', async (t) => {
    const { spawn } = await import('node:child_process');
    const { createInterface } = await import('node:readline');
    const { cpus } = await import('node:os');
    const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
    const { MapReader } = await import('../src/collectors/map-reader.js');
    const slots = 512;
    const c = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map: 'mmap', maxFlows: slots, attach: false });
    const tool = new URL('./tools/race-child.ts', import.meta.url).pathname;
    const children = [0, 1].map((cpu) =>
      // On a one-CPU machine both share it and interleave only when preempted: still a valid run.
      spawn('taskset', ['-c', String(cpu % cpus().length), process.execPath, '--import', 'tsx', tool, String(cpu + 7), '4000', '30000'], {
        stdio: ['pipe', 'pipe', 'inherit', c.programFd('xdp')],
      }),
    );
    try {
      const said = children.map((ch) => {
        const lines = createInterface({ input: ch.stdout! })[Symbol.asyncIterator]();
        return async (want: string) => {
          const line = await lines.next();
          assert.equal(line.value, want, `a helper said ${String(line.value)}, not ${want}`);
        };
      });
      await Promise.all(said.map((s) => s('ready')));
      for (const ch of children) ch.stdin!.write('go\n');
      await Promise.all(said.map((s) => s('done')));

      const snap = c.read();
      const counters = snap.counters;
      assert.equal(counters.packetsIn, 60_000, 'every frame seen');
      const live = Array.from({ length: snap.flows.length }, (_, i) => snap.flows.record(i));
      assert.ok(live.length <= slots);
      assert.equal(new Set(live.map((f) => f.key)).size, live.length, 'no flow in two slots');
      // The index holds exactly the live flows, each pointing at the slot that holds it.
      const index = new MapReader(c.slotMapFds.index, FlowKey.size, 4, slots, 'batch').read();
      const indexed = new Set<string>();
      for (let i = 0; i < index.count; i++) indexed.add(index.keys.toString('hex', i * FlowKey.size, (i + 1) * FlowKey.size));
      assert.equal(index.count, live.length, 'as many index entries as live slots');
      for (const f of live) assert.ok(indexed.has(f.key), `flow ${f.src}:${f.sport} is indexed`);
      const counted = live.reduce((n, f) => n + f.packets, 0);
      assert.ok(counted <= 60_000 - counters.updateFailed);
      assert.ok(counters.flowsCreated - live.length >= 0, 'evictions are never negative');
      // Claims lost to the other CPU are update_failed; they must stay rare.
      assert.ok(counters.updateFailed < 600, `update_failed ${counters.updateFailed}`);
      t.diagnostic(`${live.length} live, ${counters.flowsCreated} created, ${counters.updateFailed} failed`);
    } finally {
      for (const ch of children) ch.kill('SIGKILL');
      c.close();
    }
  });
});
