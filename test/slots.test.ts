/**
 * The mmap map kind (tc-top's default): flows in slots of an array shared with userspace. The
 * walk over the slots (SlotReader) on crafted memory, and the programs' slot search on the real
 * kernel: exact counts for flows that stay, least recently seen evicted, expiry frees a slot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowKey, FlowSlot, FlowValue } from '../src/ffi/layout.js';
import { SlotReader } from '../src/collectors/slot-reader.js';
import { ValueColumns } from '../src/collectors/kernel-flows.js';
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

/** The source ports of a read's rows, from their keys' positions. */
function sports(e: { keys: Buffer; at: Int32Array }): number[] {
  return Array.from(e.at, (pos) => e.keys.readUInt16LE(pos * FlowKey.size + FlowKey.sport));
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
    assert.deepEqual(sports(e), [1000, 1003, 1007, 1009]);
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
    assert.equal(r.read(new ValueColumns(1, FlowValue.size, 4)).count, 1, 'slot 0 left (2 is still busy)');
  });
});

describe('the key store: each flow\'s key once, by slot and seq', () => {
  const reader = (n: number) => {
    const mem = Buffer.alloc(n * FlowSlot.size);
    const ab = mem.buffer.slice(mem.byteOffset, mem.byteOffset + mem.length) as ArrayBuffer;
    return { view: Buffer.from(ab), r: new SlotReader(ab, n) };
  };
  const sink = () => new ValueColumns(1, FlowValue.size, 16);
  /** Slot i now holds the flow with source port `sport`, with this seq. */
  const hold = (view: Buffer, i: number, sport: number, seq: number) => {
    put(view, i, 1, seq);
    view.writeUInt16LE(sport, i * FlowSlot.size + FlowKey.sport);
  };

  it('copies a key when a read first meets its flow, and points later reads at the same position', () => {
    const { view, r } = reader(4);
    hold(view, 0, 7000, 2);
    hold(view, 2, 7002, 2);
    const a = r.read(sink());
    // The key bytes change without seq: no program does that, so the store still has the key it copied.
    view.writeUInt16LE(9999, FlowKey.sport);
    const b = r.read(sink());
    assert.deepEqual([...b.at], [...a.at]);
    assert.deepEqual(sports(b), [7000, 7002]);
    assert.equal(b.keys, a.keys, 'one buffer');
  });

  it('gives a slot with a new seq a new position, and does not write the old one while a read before is live', () => {
    const { view, r } = reader(2);
    hold(view, 0, 7000, 2);
    const held = r.read(sink());
    for (let k = 1; k <= 40; k++) {
      hold(view, 0, 7000 + k, 2 + 2 * k);
      const e = r.read(sink());
      assert.deepEqual(sports(e), [7000 + k]);
      assert.notEqual(e.at[0], held.at[0]);
      r.release(e.read);
    }
    assert.deepEqual(sports(held), [7000], 'the held read keeps its key');
    r.release(held.read);
    // Released: its position is given out again, so the store stays the size of the live flows.
    const positions = new Set<number>();
    for (let k = 41; k <= 80; k++) {
      hold(view, 0, 7000 + k, 2 + 2 * k);
      const e = r.read(sink());
      positions.add(e.at[0]!);
      r.release(e.read);
    }
    assert.ok(positions.size <= 3, `${positions.size} positions for one slot read 40 times, each read released`);
    assert.equal(r.store.renewals, 0);
  });

  it('moves to a new buffer when no position is free, and the reads before keep theirs', () => {
    const { view, r } = reader(8);
    for (let i = 0; i < 8; i++) hold(view, i, 100 + i, 2);
    const held = r.read(sink());
    let last = held;
    // Every flow replaced on every read, the first read held: more new keys than the headroom.
    for (let k = 1; k <= 200; k++) {
      for (let i = 0; i < 8; i++) hold(view, i, 1000 + 10 * k + i, 2 + 2 * k);
      last = r.read(sink());
      assert.deepEqual(sports(last), Array.from({ length: 8 }, (_, i) => 1000 + 10 * k + i));
    }
    assert.ok(r.store.renewals >= 1, 'a new buffer');
    assert.notEqual(last.keys, held.keys);
    assert.deepEqual(sports(held), [100, 101, 102, 103, 104, 105, 106, 107], 'the held read is as it was read');
  });

  it('vacates a freed slot, and matches two reads as key by key would (a flow in a new slot, one gone, one new)', async () => {
    const { KernelFlowSet } = await import('../src/collectors/kernel-flows.js');
    const { view, r } = reader(6);
    for (const i of [0, 1, 2, 3]) hold(view, i, 200 + i, 2);
    const s1 = sink();
    const a = r.read(s1);
    const setA = new KernelFlowSet(a.keys, s1.done(), () => 'x', a.at);
    view.fill(0, 1 * FlowSlot.size, 2 * FlowSlot.size); /* 201 gone */
    view.writeUInt32LE(4, 1 * FlowSlot.size + FlowSlot.value + FlowValue.seq);
    view.fill(0, 3 * FlowSlot.size, 4 * FlowSlot.size); /* 203 evicted ... */
    view.writeUInt32LE(4, 3 * FlowSlot.size + FlowSlot.value + FlowValue.seq);
    hold(view, 5, 203, 2); /* ... and back in slot 5 */
    hold(view, 4, 299, 2); /* new */
    const s2 = sink();
    const b = r.read(s2);
    const setB = new KernelFlowSet(b.keys, s2.done(), () => 'x', b.at);
    assert.deepEqual(sports(b), [200, 202, 299, 203]);
    const fast = setA.matchLater(setB)!;
    assert.deepEqual([...fast], [0, 2, -1, 3]);
    assert.deepEqual([...fast], Array.from({ length: setB.length }, (_, j) => setA.indexOfKey(setB.keyAt(j))), 'as a match by key');
    assert.deepEqual([...setA.matchLater(setB)!], [...fast], 'the same again (its scratch is left clean)');
    assert.deepEqual([...setB.matchLater(setA)!], [0, -1, 1, 3], 'and the other way');
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
