/** The steps of advance() other than the slots: building, merging and keeping samples, brackets, peaks, the counters' windows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bracket, counterDeltas, keepSamples, makeSample, mergesNewest, movedDeltas, type CounterDeltas, type Sample } from '../src/model/samples.js';
import { carryPeaks, counterWindows, raisePeaks } from '../src/model/windows.js';
import type { Window } from '../src/model/types.js';
import { counters, flow, snapshot } from './helpers/model-fixtures.js';
import { RecordFlowSet } from '../src/model/flow-set.js';
import { RateTable } from '../src/model/rate-table.js';

const S = 1e9;

/** A sample at t seconds with deltas [slot, packets, bytes] and counter deltas. */
function sample(t: number, deltas: [number, number, number][] = [], totals: CounterDeltas = [0, 0, 0, 0]): Sample {
  return {
    monoNs: Math.round(t * S),
    slots: Int32Array.from(deltas, ([s]) => s),
    packets: Float64Array.from(deltas, ([, p]) => p),
    bytes: Float64Array.from(deltas, ([, , b]) => b),
    totals,
  };
}

const plain = (s: Sample) => ({ t: s.monoNs / S, deltas: [...s.slots].map((slot, k) => [slot, s.packets[k], s.bytes[k]]), totals: [...s.totals] });

describe('mergesNewest', () => {
  const table: [name: string, times: number[], want: boolean][] = [
    ['no samples', [], false],
    ['one sample', [1], false],
    ['a second apart', [1, 2], false],
    ['0.9 s apart is not too close', [1, 1.9], false],
    ['0.5 s apart', [1, 2, 2.5], true],
    ['the same time', [3, 3], true],
  ];
  for (const [name, times, want] of table) it(name, () => assert.equal(mergesNewest(times.map((t) => sample(t))), want));
});

/** A table of `n` flows whose interval deltas are these. */
function tableWith(packets: readonly number[], bytes: readonly number[]): RateTable {
  const t = new RateTable(new RecordFlowSet(packets.map((_, i) => flow({ key: `k${i}` }))), 1);
  t.setDeltas(Float64Array.from(packets), Float64Array.from(bytes));
  return t;
}

describe('movedDeltas', () => {
  const table: [name: string, packets: number[], bytes: number[], slotOfRow: number[], keep: boolean, want: [number, number, number][]][] = [
    ['no rows', [], [], [], true, []],
    ['only the rows that moved, under their slots, in row order', [0, 2, 0, 1], [0, 0, 60, 40], [3, 1, 0, 2], true, [[1, 2, 0], [0, 0, 60], [2, 1, 40]]],
    ['a few of many (the table keeps them as a list)', [0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0], [0, 0, 70, 0, 0, 0, 0, 30, 0, 0, 0, 0], [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], true, [[9, 0, 70], [4, 3, 30]]],
    ['none kept for the first snapshot', [5, 6], [500, 600], [0, 1], false, []],
  ];
  for (const [name, packets, bytes, slotOfRow, keep, want] of table) {
    it(name, () => {
      const d = movedDeltas(tableWith(packets, bytes).movedRows(), Int32Array.from(slotOfRow), keep);
      assert.deepEqual([...d.slots].map((s, k) => [s, d.packets[k], d.bytes[k]]), want);
    });
  }
});

describe('RateTable deltas', () => {
  it('keeps a few rows that moved as a list and many as columns, and reads the same either way', () => {
    for (const share of [0.01, 0.2, 0.3, 1]) {
      const n = 400;
      const packets = Array.from({ length: n }, (_, i) => ((i * 7919) % 100 < share * 100 ? 1 + (i % 5) : 0));
      const bytes = packets.map((p, i) => (p ? p * 100 : i % 97 === 0 ? 64 : 0));
      const t = tableWith(packets, bytes);
      const kept = new RateTable(t.flows, 1).setDeltas(Float64Array.from(packets), Float64Array.from(bytes));
      const moved = packets.filter((p, i) => p !== 0 || bytes[i] !== 0).length;
      assert.equal(kept, moved > n / 4, `${share}: a list up to a quarter of the rows`);
      const rows = t.rows(Array.from({ length: n }, (_, i) => i));
      assert.deepEqual(rows.map((r) => [r.deltaPackets, r.deltaBytes, r.pps, r.bps]), packets.map((p, i) => [p, bytes[i], p, bytes[i]! * 8]));
      assert.deepEqual([...t.pps], packets);
      assert.deepEqual([...t.deltaBytes], bytes);
      assert.deepEqual([...t.bps], bytes.map((b) => b * 8));
    }
  });
});

describe('counterDeltas', () => {
  const c = (packetsIn: number, bytesIn: number, packetsOut: number, bytesOut: number) => snapshot({ counters: counters({ packetsIn, bytesIn, packetsOut, bytesOut }) });
  const table: [name: string, prev: ReturnType<typeof c> | undefined, cur: ReturnType<typeof c>, want: number[]][] = [
    ['no previous snapshot: everything so far', undefined, c(1, 2, 3, 4), [1, 2, 3, 4]],
    ['the difference', c(1, 2, 3, 4), c(11, 22, 33, 44), [10, 20, 30, 40]],
    ['a counter that went back restarted: all of it', c(10, 20, 30, 40), c(11, 5, 30, 40), [1, 5, 0, 0]],
  ];
  for (const [name, prev, cur, want] of table) it(name, () => assert.deepEqual([...counterDeltas(prev, cur)], want));
});

describe('makeSample', () => {
  const deltas = { slots: Int32Array.from([4]), packets: Float64Array.from([2]), bytes: Float64Array.from([200]) };
  it('a sample of its own', () => assert.deepEqual(plain(makeSample(3 * S, deltas, [1, 2, 3, 4])), { t: 3, deltas: [[4, 2, 200]], totals: [1, 2, 3, 4] }));
  it('merged: the older deltas first, the counters added, the newer time', () => {
    const into = sample(2.5, [[1, 1, 10], [4, 1, 10]], [1, 1, 1, 1]);
    assert.deepEqual(plain(makeSample(3 * S, deltas, [1, 2, 3, 4], into)), { t: 3, deltas: [[1, 1, 10], [4, 1, 10], [4, 2, 200]], totals: [2, 3, 4, 5] });
    assert.deepEqual(plain(into), { t: 2.5, deltas: [[1, 1, 10], [4, 1, 10]], totals: [1, 1, 1, 1] }, 'the merged one is left as it was');
  });
});

describe('keepSamples', () => {
  const table: [name: string, times: number[], first: number, next: number, merge: boolean, want: { times: number[]; first: number }][] = [
    ['the first sample', [], 0, 1, false, { times: [1], first: 0 }],
    ['appended', [1, 2], 0, 3, false, { times: [1, 2, 3], first: 0 }],
    ['replaces the newest when merged', [1, 2, 2.5], 0, 2.9, true, { times: [1, 2, 2.9], first: 0 }],
    ['one at or before now - 40 s stays, older ones go', [1, 2, 3, 4], 7, 43, false, { times: [3, 4, 43], first: 9 }],
  ];
  for (const [name, times, first, next, merge, want] of table) {
    it(name, () => {
      const kept = keepSamples({ samples: times.map((t) => sample(t)), first }, sample(next), merge, next * S);
      assert.deepEqual({ times: kept.samples.map((s) => s.monoNs / S), first: kept.first }, want);
    });
  }
});

describe('bracket', () => {
  const table: [name: string, times: number[], first: number, w: Window, want: { bound: number; inside: number; seconds: number }][] = [
    ['a single sample: no time yet', [5], 3, 2, { bound: 3, inside: 0, seconds: 0 }],
    ['a history shorter than the window: the whole history', [1, 2, 3], 0, 10, { bound: 0, inside: 0, seconds: 2 }],
    ['a start on a sample boundary', [1, 2, 3, 4], 10, 2, { bound: 12, inside: 1, seconds: 2 }],
    ['a start inside an interval: its share', [1, 2, 4, 5], 0, 2, { bound: 2, inside: 0.5, seconds: 2 }],
  ];
  for (const [name, times, first, w, want] of table) {
    it(name, () => assert.deepEqual({ ...bracket(times.map((t) => sample(t)), first, (times.at(-1) as number) * S, w) }, want));
  }
});

describe('carryPeaks', () => {
  const table: [name: string, prev: number[], size: number, newSlots: number[], want: number[]][] = [
    ['none', [], 0, [], []],
    ['kept, grown with zeros, new slots from 0', [5, 6, 7], 5, [1, 4], [5, 0, 7, 0, 0]],
  ];
  for (const [name, prev, size, newSlots, want] of table) {
    it(name, () => {
      const p = Float64Array.from(prev);
      assert.deepEqual([...carryPeaks(p, size, Int32Array.from(newSlots))], want);
      assert.deepEqual([...p], prev, 'the previous peaks are left as they were');
    });
  }
});

describe('raisePeaks', () => {
  // Slots 0..2; rows: slot 0 -> row 1, slot 1 -> none (gone), slot 2 -> row 0.
  const samples = [sample(1, [[0, 1, 1]]), sample(2, [[1, 1, 1]]), sample(3, [[2, 1, 1]])];
  const table: [name: string, from: number, peaks: number[], wantPps: number[], wantBps: number[]][] = [
    ["the slots that moved since `from` rise to their row's rate", 12, [0, 0, 0], [0, 0, 30], [0, 0, 300]],
    ['a gone slot keeps its peak, a higher peak stays', 10, [50, 9, 0], [50, 9, 30], [400, 9, 300]],
    ['from the first sample', 10, [0, 0, 0], [40, 0, 30], [400, 0, 300]],
  ];
  for (const [name, from, peaks, wantPps, wantBps] of table) {
    it(name, () => {
      const pps = Float64Array.from(peaks);
      const bps = Float64Array.from(peaks);
      raisePeaks(samples, 10, from, Int32Array.from([1, -1, 0]), Float64Array.from([30, 40]), Float64Array.from([300, 400]), pps, bps);
      assert.deepEqual([...pps], wantPps);
      assert.deepEqual([...bps], wantBps);
    });
  }
});

describe('counterWindows', () => {
  const seconds = (w: Window, times: number[]) => bracket(times.map((t) => sample(t)), 0, (times.at(-1) as number) * S, w);
  const table: [name: string, samples: Sample[], dir: 0 | 1, want: { pps2: number; bps2: number; pps10: number; bps10: number; pps40: number; bps40: number }][] = [
    ['no time yet: 0', [sample(0)], 0, { pps2: 0, bps2: 0, pps10: 0, bps10: 0, pps40: 0, bps40: 0 }],
    [
      'in: packets and bits per second over each window (the oldest sample counts in none)',
      [sample(0, [], [100, 100, 0, 0]), sample(1, [], [10, 100, 0, 0]), sample(2, [], [30, 300, 0, 0])],
      0,
      { pps2: 20, bps2: 1600, pps10: 20, bps10: 1600, pps40: 20, bps40: 1600 },
    ],
    ['out reads the out counters', [sample(0), sample(2, [], [1, 1, 4, 8])], 1, { pps2: 2, bps2: 32, pps10: 2, bps10: 32, pps40: 2, bps40: 32 }],
  ];
  for (const [name, samples, dir, want] of table) {
    it(name, () => {
      const times = samples.map((s) => s.monoNs / S);
      const brackets = ([2, 10, 40] as const).map((w) => seconds(w, times));
      assert.deepEqual(counterWindows(samples, 0, brackets, dir), want);
    });
  }
});
