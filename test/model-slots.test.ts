import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignSlots, bornOf, freeSlots, matchOnce, NO_SLOTS, placeRows, rowsOfSlots, type Slots } from '../src/model/slots.js';

/** Slots written as plain lists: freed as [slot, serial] pairs. */
interface Plain {
  readonly slotOfRow: number[];
  readonly born: number[];
  readonly freed: [slot: number, serial: number][];
}

const slots = (p: Plain): Slots => ({
  slotOfRow: Int32Array.from(p.slotOfRow),
  born: Float64Array.from(p.born),
  freed: { slots: Int32Array.from(p.freed, ([s]) => s), serials: Float64Array.from(p.freed, ([, n]) => n) },
});

const plain = (s: Slots): Plain => ({
  slotOfRow: [...s.slotOfRow],
  born: [...s.born],
  freed: [...s.freed.slots].map((slot, k): [number, number] => [slot, s.freed.serials[k]!]),
});

interface Case {
  readonly name: string;
  /** The slots after the previous sample (slotOfRow: per row of the previous snapshot). */
  readonly prev: Plain;
  /** For each new row, the previous row of its flow, or -1. */
  readonly old: number[];
  readonly serial: number;
  readonly want: Plain & { readonly rowOfSlot: number[]; readonly newSlots: number[]; readonly old?: number[] };
}

const EMPTY: Plain = { slotOfRow: [], born: [], freed: [] };

const cases: Case[] = [
  {
    name: 'empty maps',
    prev: EMPTY,
    old: [],
    serial: 0,
    want: { ...EMPTY, rowOfSlot: [], newSlots: [] },
  },
  {
    name: 'the first snapshot: every flow new, slots in row order',
    prev: EMPTY,
    old: [-1, -1, -1],
    serial: 0,
    want: { slotOfRow: [0, 1, 2], born: [0, 0, 0], freed: [], rowOfSlot: [0, 1, 2], newSlots: [0, 1, 2] },
  },
  {
    name: 'all flows stay, in another order: each keeps its slot and birth',
    prev: { slotOfRow: [0, 1, 2], born: [0, 0, 3], freed: [] },
    old: [2, 0, 1],
    serial: 5,
    want: { slotOfRow: [2, 0, 1], born: [0, 0, 3], freed: [], rowOfSlot: [1, 2, 0], newSlots: [] },
  },
  {
    name: 'a flow leaves: its slot is freed at this serial and has no row',
    prev: { slotOfRow: [0, 1, 2], born: [0, 0, 0], freed: [] },
    old: [0, 2],
    serial: 4,
    want: { slotOfRow: [0, 2], born: [0, 0, 0], freed: [[1, 4]], rowOfSlot: [0, -1, 1], newSlots: [] },
  },
  {
    name: 'a flow leaves and one arrives in the same sample: the new one does not take the slot just freed',
    prev: { slotOfRow: [0, 1, 2], born: [0, 0, 0], freed: [] },
    old: [0, -1, 2],
    serial: 4,
    want: { slotOfRow: [0, 3, 2], born: [0, 0, 0, 4], freed: [[1, 4]], rowOfSlot: [0, -1, 2, 1], newSlots: [3] },
  },
  {
    name: 'from the next sample on, a new flow takes the freed slot and is born there',
    prev: { slotOfRow: [0, 3, 2], born: [0, 0, 0, 4], freed: [[1, 4]] },
    old: [0, 1, 2, -1],
    serial: 5,
    want: { slotOfRow: [0, 3, 2, 1], born: [0, 5, 0, 4], freed: [], rowOfSlot: [0, 3, 2, 1], newSlots: [1] },
  },
  {
    name: 'a merged sample keeps its serial: a slot freed at that serial still waits',
    prev: { slotOfRow: [0], born: [0, 0], freed: [[1, 5]] },
    old: [0, -1],
    serial: 5,
    want: { slotOfRow: [0, 2], born: [0, 0, 5], freed: [[1, 5]], rowOfSlot: [0, -1, 1], newSlots: [2] },
  },
  {
    name: 'the oldest freed slots go first; the rest wait, then this sample\'s',
    prev: { slotOfRow: [0, 2], born: [1, 1, 1, 1, 1, 1, 1], freed: [[4, 2], [1, 3], [6, 3]] },
    old: [-1, 1, -1],
    serial: 5,
    want: { slotOfRow: [4, 2, 1], born: [1, 5, 1, 1, 5, 1, 1], freed: [[6, 3], [0, 5]], rowOfSlot: [-1, 2, 1, -1, 0, -1, -1], newSlots: [4, 1] },
  },
  {
    name: 'a duplicate row: the second row matching one previous row counts as new',
    prev: { slotOfRow: [0, 1], born: [0, 0], freed: [] },
    old: [1, 1, 0],
    serial: 3,
    want: { slotOfRow: [1, 2, 0], born: [0, 0, 3], freed: [], rowOfSlot: [2, 0, 1], newSlots: [2], old: [1, -1, 0] },
  },
  {
    name: 'growth: new flows past the freed slots take new slots at the end',
    prev: { slotOfRow: [1, 0], born: [2, 2, 4], freed: [[2, 4]] },
    old: [0, 1, -1, -1, -1],
    serial: 6,
    want: { slotOfRow: [1, 0, 2, 3, 4], born: [2, 2, 6, 6, 6], freed: [], rowOfSlot: [1, 0, 2, 3, 4], newSlots: [2, 3, 4] },
  },
  {
    name: 'every flow leaves: all slots freed in row order, births kept',
    prev: { slotOfRow: [2, 0, 1], born: [0, 3, 1], freed: [] },
    old: [],
    serial: 7,
    want: { slotOfRow: [], born: [0, 3, 1], freed: [[2, 7], [0, 7], [1, 7]], rowOfSlot: [-1, -1, -1], newSlots: [] },
  },
];

describe('assignSlots', () => {
  for (const c of cases) {
    it(c.name, () => {
      const prev = slots(c.prev);
      const old = Int32Array.from(c.old);
      const got = assignSlots(prev, old, c.serial);
      assert.deepEqual(plain(got), { slotOfRow: c.want.slotOfRow, born: c.want.born, freed: c.want.freed });
      assert.deepEqual([...got.rowOfSlot], c.want.rowOfSlot, 'rowOfSlot');
      assert.deepEqual([...got.newSlots], c.want.newSlots, 'newSlots');
      assert.deepEqual([...old], c.want.old ?? c.old, 'old, with repeated matches unmatched');
      assert.deepEqual(plain(prev), c.prev, 'the previous slots are left as they were');
    });
  }

  it('chained: a slot freed in one sample is reused in the next, never in the same', () => {
    // Sample 1: a, b, c. Sample 2: b leaves, d arrives. Sample 3: e arrives and takes b's slot.
    const s1 = assignSlots(NO_SLOTS, Int32Array.from([-1, -1, -1]), 1);
    const s2 = assignSlots(s1, Int32Array.from([0, 2, -1]), 2);
    const s3 = assignSlots(s2, Int32Array.from([0, 1, 2, -1]), 3);
    assert.deepEqual([...s2.slotOfRow], [0, 2, 3]);
    assert.deepEqual([...s3.slotOfRow], [0, 2, 3, 1]);
    assert.deepEqual([...s3.born], [1, 3, 1, 2]);
    assert.equal(s3.freed.slots.length, 0);
  });
});

describe('matchOnce', () => {
  const table: [name: string, old: number[], prevRows: number, stays: number[], after: number[]][] = [
    ['nothing', [], 0, [], []],
    ['no previous rows', [-1, -1], 0, [], [-1, -1]],
    ['each previous row once', [1, -1, 0], 3, [1, 1, 0], [1, -1, 0]],
    ['a repeat is unmatched, the first match kept', [2, 2, 2, 0], 3, [1, 0, 1], [2, -1, -1, 0]],
  ];
  for (const [name, old, prevRows, stays, after] of table) {
    it(name, () => {
      const o = Int32Array.from(old);
      assert.deepEqual([...matchOnce(o, prevRows)], stays);
      assert.deepEqual([...o], after);
    });
  }
});

describe('the steps of assignSlots', () => {
  const freed = (pairs: [number, number][]) => ({ slots: Int32Array.from(pairs, ([s]) => s), serials: Float64Array.from(pairs, ([, n]) => n) });

  const placements: [name: string, old: number[], prevSlotOfRow: number[], size: number, freed: [number, number][], serial: number, want: { slotOfRow: number[]; size: number; reused: number; newSlots: number[] }][] = [
    ['no rows', [], [], 0, [], 0, { slotOfRow: [], size: 0, reused: 0, newSlots: [] }],
    ['kept rows keep their slots', [1, 0], [5, 7], 8, [], 2, { slotOfRow: [7, 5], size: 8, reused: 0, newSlots: [] }],
    ['reuse stops at the first slot freed at this serial', [-1, -1, -1], [], 4, [[3, 1], [0, 2], [2, 2]], 2, { slotOfRow: [3, 4, 5], size: 6, reused: 1, newSlots: [3, 4, 5] }],
  ];
  for (const [name, old, prevSlotOfRow, size, fr, serial, want] of placements) {
    it(`placeRows: ${name}`, () => {
      const got = placeRows(Int32Array.from(old), Int32Array.from(prevSlotOfRow), size, freed(fr), serial);
      assert.deepEqual({ slotOfRow: [...got.slotOfRow], size: got.size, reused: got.reused, newSlots: [...got.newSlots] }, want);
    });
  }

  const frees: [name: string, freed: [number, number][], reused: number, stays: number[], prevSlotOfRow: number[], serial: number, want: [number, number][]][] = [
    ['nothing waits, nothing leaves', [], 0, [1, 1], [0, 1], 3, []],
    ['the reused leave the list, the gone join it', [[4, 1], [5, 2]], 1, [0, 1, 0], [2, 0, 3], 3, [[5, 2], [2, 3], [3, 3]]],
  ];
  for (const [name, fr, reused, stays, prevSlotOfRow, serial, want] of frees) {
    it(`freeSlots: ${name}`, () => {
      const got = freeSlots(freed(fr), reused, Uint8Array.from(stays), Int32Array.from(prevSlotOfRow), serial);
      assert.deepEqual([...got.slots].map((s, k) => [s, got.serials[k]]), want);
    });
  }

  const births: [name: string, prevBorn: number[], size: number, newSlots: number[], serial: number, want: number[]][] = [
    ['none', [], 0, [], 0, []],
    ['kept, grown, and new', [1, 2], 4, [0, 3], 9, [9, 2, 0, 9]],
  ];
  for (const [name, prevBorn, size, newSlots, serial, want] of births) {
    it(`bornOf: ${name}`, () => assert.deepEqual([...bornOf(Float64Array.from(prevBorn), size, Int32Array.from(newSlots), serial)], want));
  }

  const rows: [name: string, slotOfRow: number[], size: number, want: number[]][] = [
    ['none', [], 0, []],
    ['free slots have no row', [3, 0], 4, [1, -1, -1, 0]],
  ];
  for (const [name, slotOfRow, size, want] of rows) {
    it(`rowsOfSlots: ${name}`, () => assert.deepEqual([...rowsOfSlots(Int32Array.from(slotOfRow), size)], want));
  }
});
