/**
 * The map reader on a real map: batch lookups and key iteration (the fallback for kernels without
 * batch ops) must return the same entries, for a map that needs several batches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelTest } from './helpers/netns.js';
import { frame } from './helpers/packets.js';

describe('MapReader on a real flows map', kernelTest(), () => {
  for (const map of ['lru', 'percpu'] as const) {
    it(`batch and iteration read the same ${map} entries`, async () => {
      const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
      const { progTestRun, numPossibleCpus } = await import('../src/ffi/libbpf.js');
      const { MapReader } = await import('../src/collectors/map-reader.js');
      const { FlowKey, FlowValue, perCpuSlot } = await import('../src/ffi/layout.js');
      const c = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map, maxFlows: 20_000, attach: false });
      try {
        const fd = c.programFd('xdp');
        const n = 17_000; /* more than two batches of 8192 */
        for (let i = 0; i < n; i++) {
          const f = frame({ ip: { v: 4, src: `10.0.${i >> 8}.${i & 255}`, dst: '10.1.0.1' }, l4: { kind: 'udp', sport: 1000 + (i % 5000), dport: 53 } });
          progTestRun(fd, f);
        }
        const valueSize = map === 'percpu' ? perCpuSlot(FlowValue.size) * numPossibleCpus() : FlowValue.size;
        const read = (method: 'batch' | 'iterate') => {
          const r = new MapReader(c.flowsMapFd, FlowKey.size, valueSize, 20_000, method).read();
          const entries = new Map<string, string>();
          for (let i = 0; i < r.count; i++) {
            entries.set(r.keys.toString('hex', i * FlowKey.size, (i + 1) * FlowKey.size), r.values.toString('hex', i * valueSize, (i + 1) * valueSize));
          }
          assert.equal(entries.size, r.count, `${method}: no key twice`);
          return entries;
        };
        const batch = read('batch');
        const iterate = read('iterate');
        assert.equal(batch.size, n);
        assert.deepEqual(iterate, batch);
        const snap = c.read();
        assert.equal(snap.flows.length, n);
        assert.equal(snap.flows.packets.reduce((t, n) => t + n, 0), snap.counters.packetsIn);
      } finally {
        c.close();
      }
    });
  }

  it('a read that meets more entries than maxEntries (a churning map) returns them all, no ENOSPC', async () => {
    // While a read walks the buckets the kernel evicts entries behind it and inserts new ones ahead
    // of it, so one read can meet more entries than the map holds at once. A reader sized for fewer
    // entries than the map holds is the same situation, made repeatable: the old reader asked the
    // kernel for just the room left, got ENOSPC when a bucket did not fit, and tc-top exited.
    const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
    const { progTestRun } = await import('../src/ffi/libbpf.js');
    const { MapReader } = await import('../src/collectors/map-reader.js');
    const { FlowKey, FlowValue } = await import('../src/ffi/layout.js');
    const c = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map: 'lru', maxFlows: 40_000, attach: false });
    try {
      const fd = c.programFd('xdp');
      const n = 30_000;
      for (let i = 0; i < n; i++) {
        const f = frame({ ip: { v: 4, src: `10.2.${i >> 8}.${i & 255}`, dst: '10.1.0.1' }, l4: { kind: 'udp', sport: 2000 + (i % 7000), dport: 53 } });
        progTestRun(fd, f);
      }
      for (const capacity of [1_000, 5_000, 9_000, 20_000]) {
        for (const method of ['batch', 'iterate'] as const) {
          const r = new MapReader(c.flowsMapFd, FlowKey.size, FlowValue.size, capacity, method).read();
          const keys = new Set<string>();
          for (let i = 0; i < r.count; i++) keys.add(r.keys.toString('hex', i * FlowKey.size, (i + 1) * FlowKey.size));
          assert.equal(keys.size, r.count, `${method} at ${capacity}: no key twice`);
          if (method === 'batch') assert.equal(r.count, n, `batch at ${capacity}: every entry`);
          else assert.ok(r.count >= Math.min(n, capacity), `iterate at ${capacity}: ${r.count} entries`);
          for (let i = 0; i < r.count; i++) assert.ok(r.values.readBigUInt64LE(i * FlowValue.size + FlowValue.packets) === 1n);
        }
      }
    } finally {
      c.close();
    }
  });

  it('mmap reads reuse the buffers of retired ticks, never of a tick still held', async () => {
    const { KernelCollector } = await import('../src/collectors/kernel-collector.js');
    const { progTestRun } = await import('../src/ffi/libbpf.js');
    const { RunLoop } = await import('../src/app/run-loop.js');
    const c = KernelCollector.start({ interfaces: [], hook: 'tc', xdpMode: 'auto', map: 'mmap', maxFlows: 4096, attach: false });
    try {
      const fd = c.programFd('xdp');
      const send = (flows: number, times: number) => {
        for (let i = 0; i < flows; i++) {
          const f = frame({ ip: { v: 4, src: `10.0.0.${i + 1}`, dst: '10.1.0.1' }, l4: { kind: 'udp', sport: 1000 + i, dport: 53 } });
          for (let k = 0; k < times; k++) progTestRun(fd, f);
        }
      };
      const loop = new RunLoop({ collector: c, interfaces: [], intervalS: 1, idleTimeoutS: 3600 });
      let held: import('../src/model/types.js').Tick | undefined;
      loop.subscribe({ tick: () => undefined, holds: (t) => t === held });
      send(200, 1);
      loop.prime();
      const first = loop.step();
      held = first;
      // Read from the columns and key bytes themselves (the rows' objects are built once and kept).
      const columns = (t: import('../src/model/types.js').Tick) => Array.from({ length: t.snapshot.flows.length }, (_, i) => `${t.snapshot.flows.keyAt(i)} ${t.snapshot.flows.packets[i]}`).sort();
      const heldKeys = columns(first);
      assert.equal(heldKeys.length, 200);
      const seen: import('../src/model/types.js').Tick[] = [];
      for (let k = 0; k < 5; k++) {
        send(200, 2);
        seen.push(loop.step());
      }
      // Five reads since: the buffers of the ticks retired in between were reused, the held one's not.
      assert.deepEqual(columns(first), heldKeys, 'the held tick reads as it was read');
      assert.ok(first.snapshot.flows.packets.every((p) => p === 1));
      const last = seen.at(-1)!;
      assert.equal(last.table.length, 200);
      assert.ok(last.snapshot.flows.packets.every((p) => p === 11), 'the newest read has every frame');
      assert.equal(seen[0]!.table.length, 0, 'a tick not held is retired');
      held = undefined;
      send(200, 1);
      const after = loop.step();
      assert.equal(first.table.length, 0, 'let go once no longer held');
      assert.ok(after.snapshot.flows.packets.every((p) => p === 12));
    } finally {
      c.close();
    }
  });
});

