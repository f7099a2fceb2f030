import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advance, computeRates, computeTotals, NO_HISTORY, windowRate, WINDOWS } from '../src/model/index.js';
import type { FlowRate, FlowRecord, RateHistory, Snapshot, Step } from '../src/model/index.js';
import { counters, flow, prng, snapshot } from './helpers/model-fixtures.js';

const S = 1e9;

/** Every step of a run from an empty history. */
function run(snaps: readonly Snapshot[]): Step[] {
  const steps: Step[] = [];
  let history: RateHistory = NO_HISTORY;
  for (const snap of snaps) {
    const step = advance(history, snap);
    steps.push(step);
    history = step.history;
  }
  return steps;
}

/** Bytes per second of flow `key` over each window, and its peak, at a step. */
function bytesPerS(step: Step | undefined, key = 'k1'): { w2: number; w10: number; w40: number; peak: number } {
  const r = step?.rates.find((x) => x.key === key);
  assert.ok(r, `${key} is in the step`);
  return { w2: r.bps2 / 8, w10: r.bps10 / 8, w40: r.bps40 / 8, peak: r.peakBps / 8 };
}

/**
 * A flow sending `perInterval[k]` bytes (and a tenth as many packets) in the interval ending at
 * `times[k]`; the first snapshot is at times[0] with nothing counted yet.
 */
function script(times: readonly number[], perInterval: (k: number) => number, over: Partial<FlowRecord> = {}): Snapshot[] {
  let bytes = 0;
  return times.map((t, k) => {
    bytes += k === 0 ? 0 : perInterval(k);
    return snapshot({ monoNs: Math.round(t * S), flows: [flow({ bytes, packets: bytes / 10, lastSeenNs: t * S, ...over })] });
  });
}

/** Monotonic times of the kept samples. */
const times = (h: RateHistory): number[] => h.samples.map((x) => x.monoNs);

const seconds = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('rate windows: exact averages', () => {
  // 100 B/s for 10 s, 1000 B/s for 10 s, silence for 20 s, then 400 B/s.
  const shape = (k: number): number => (k <= 10 ? 100 : k <= 20 ? 1000 : k <= 40 ? 0 : 400);
  const steps = run(script(seconds(0, 45), shape));

  const cases: { t: number; want: ReturnType<typeof bytesPerS> }[] = [
    { t: 1, want: { w2: 100, w10: 100, w40: 100, peak: 100 } }, // one second of history: every window is it
    { t: 5, want: { w2: 100, w10: 100, w40: 100, peak: 100 } },
    { t: 12, want: { w2: 1000, w10: (8 * 100 + 2 * 1000) / 10, w40: (10 * 100 + 2 * 1000) / 12, peak: 1000 } },
    { t: 20, want: { w2: 1000, w10: 1000, w40: (10 * 100 + 10 * 1000) / 20, peak: 1000 } },
    { t: 25, want: { w2: 0, w10: 500, w40: (10 * 100 + 10 * 1000) / 25, peak: 1000 } },
    { t: 45, want: { w2: 400, w10: 200, w40: (5 * 100 + 10 * 1000 + 5 * 400) / 40, peak: 1000 } },
  ];
  for (const c of cases) {
    it(`at ${c.t} s`, () => assert.deepEqual(bytesPerS(steps[c.t]), c.want));
  }

  it('packets per second follow the same windows', () => {
    const r = steps[45]!.rates[0]!;
    assert.deepEqual([r.pps2, r.pps10, r.pps40, r.peakPps], [40, 20, 31.25, 100]);
    assert.deepEqual(windowRate(r, 10), { pps: 20, bps: 1600 });
  });

  it('the interval rate is still the last interval’s', () => {
    const r = steps[45]!.rates[0]!;
    assert.deepEqual([r.deltaBytes, r.bps], [400, 3200]);
  });
});

describe('rate windows: gaps, restarts, births', () => {
  it('a missed tick: the interval that spans it is spread over its two seconds', () => {
    // Ticks every second but the one at 5 s: 100 B/s, except 300 B in the 4 s to 6 s interval.
    const times = seconds(0, 12).filter((t) => t !== 5);
    const steps = run(script(times, (k) => (times[k] === 6 ? 300 : 100)));
    const at = (t: number) => bytesPerS(steps[times.indexOf(t)]);
    assert.equal(at(6).w2, 300 / 2, 'the window starts on the sample at 4 s');
    // At 7 s the 2 s window starts at 5 s, half-way through the gap: 150 B of it, then 100 B.
    assert.equal(at(7).w2, (150 + 100) / 2);
    assert.equal(at(12).w10, (100 + 100 + 300 + 6 * 100) / 10, 'the 10 s window from 2 s, across the gap');
    assert.equal(steps[times.indexOf(6)]!.intervalS, 2);
  });

  it('a counter that restarts (the entry was evicted and recreated) adds its new count', () => {
    const snaps = [
      ...script(seconds(0, 11), () => 100),
      snapshot({ monoNs: 12 * S, flows: [flow({ bytes: 60, packets: 6, firstSeenNs: 11.5 * S })] }),
      snapshot({ monoNs: 13 * S, flows: [flow({ bytes: 160, packets: 16, firstSeenNs: 11.5 * S })] }),
    ];
    const steps = run(snaps);
    assert.deepEqual(bytesPerS(steps[13]), { w2: (60 + 100) / 2, w10: (8 * 100 + 60 + 100) / 10, w40: (11 * 100 + 160) / 13, peak: 100 });
  });

  it('the global counters restarting (programs reloaded) do the same for the totals', () => {
    const at = (t: number, bytesOut: number) => snapshot({ monoNs: t * S, counters: counters({ bytesOut, packetsOut: bytesOut / 100 }) });
    const steps = run([at(0, 0), at(1, 1000), at(2, 2000), at(3, 500), at(4, 1500)]);
    const t = steps[4]!.totals;
    assert.deepEqual([t.windowsOut.bps2 / 8, t.windowsOut.pps2, t.windowsOut.bps10 / 8], [(500 + 1000) / 2, 15 / 2, (2000 + 500 + 1000) / 4]);
    assert.deepEqual([t.windowsIn.bps40, t.peakBps / 8, t.peakPps], [0, 1000, 10]);
    assert.equal(t.bpsOut / 8, 1000, 'the interval rate as before');
  });

  it('a flow born during a window counts as silent before it', () => {
    const steps = run([
      ...seconds(0, 19).map((t) => snapshot({ monoNs: t * S })),
      snapshot({ monoNs: 20 * S, flows: [flow({ bytes: 500, packets: 5, firstSeenNs: 19.5 * S })] }),
      snapshot({ monoNs: 21 * S, flows: [flow({ bytes: 600, packets: 6, firstSeenNs: 19.5 * S })] }),
    ]);
    assert.deepEqual(bytesPerS(steps[20]), { w2: 250, w10: 50, w40: 25, peak: 250 });
    assert.deepEqual(bytesPerS(steps[21]), { w2: 300, w10: 60, w40: 600 / 21, peak: 300 });
    assert.equal(steps[20]!.rates[0]!.isNew, true);
  });

  it('a flow that goes away and comes back starts over, its old counts forgotten', () => {
    const f = (bytes: number) => [flow({ bytes, packets: bytes / 10 })];
    const steps = run([
      snapshot({ monoNs: 0, flows: f(0) }),
      snapshot({ monoNs: 1 * S, flows: f(1000) }),
      snapshot({ monoNs: 2 * S, flows: [] }),
      snapshot({ monoNs: 3 * S, flows: f(50) }),
    ]);
    assert.equal(steps[2]!.history.slotOfRow.length, 0);
    assert.deepEqual(bytesPerS(steps[3]), { w2: 25, w10: 50 / 3, w40: 50 / 3, peak: 25 });
  });
});

describe('rate windows: edges', () => {
  it('the first snapshot only starts the history: first-read rates, peaks from 0', () => {
    const [first, second] = run([
      snapshot({ monoNs: 10 * S, flows: [flow({ bytes: 2000, packets: 20, firstSeenNs: 8 * S })] }),
      snapshot({ monoNs: 11 * S, flows: [flow({ bytes: 2100, packets: 21, firstSeenNs: 8 * S })] }),
    ]);
    assert.deepEqual([first!.intervalS, first!.rates[0]!.bps2 / 8, first!.history.slotPeakBps[first!.history.slotOfRow[0]!]], [0, 1000, 0]);
    assert.deepEqual(bytesPerS(second), { w2: 100, w10: 100, w40: 100, peak: 100 });
    assert.equal(second!.intervalS, 1);
  });

  it('a clock that does not advance gives finite rates, and the sample is merged', () => {
    const steps = run([
      snapshot({ monoNs: 0, flows: [flow()] }),
      snapshot({ monoNs: 1 * S, flows: [flow({ bytes: 100 })] }),
      snapshot({ monoNs: 1 * S, flows: [flow({ bytes: 300 })] }),
      snapshot({ monoNs: 2 * S, flows: [flow({ bytes: 400 })] }),
    ]);
    for (const step of steps) for (const v of Object.values(bytesPerS(step))) assert.ok(Number.isFinite(v));
    assert.deepEqual(bytesPerS(steps[3]), { w2: 200, w10: 200, w40: 200, peak: 300 });
    assert.deepEqual(times(steps[3]!.history), [0, 1 * S, 2 * S]);
  });

  it('no flows at all', () => {
    const [, step] = run([snapshot(), snapshot({ monoNs: S })]);
    assert.deepEqual(step!.rates, []);
    assert.equal(step!.totals.windowsIn.bps2, 0);
  });

  it('leaves the history it was given as it was', () => {
    const [, one] = run(script([0, 1], () => 100));
    const copy = (h: RateHistory) => JSON.stringify({ peaks: [...h.slotPeakBps], slots: [...h.slotOfRow], samples: h.samples.map((x) => [x.monoNs, [...x.slots], [...x.bytes]]) });
    const before = copy(one!.history);
    const next = (bytes: number) => snapshot({ monoNs: 2 * S, flows: [flow({ bytes, packets: bytes / 10 })] });
    const a = advance(one!.history, next(300));
    const b = advance(one!.history, next(500));
    assert.equal(copy(one!.history), before);
    assert.deepEqual([a.rates[0]!.bps2 / 8, b.rates[0]!.bps2 / 8], [150, 250]);
  });
});

describe('rate windows: bounded memory', () => {
  it('stays bounded over ten minutes of churn: samples, slots and freed slots', () => {
    // 200 flows live at any time, 20 replaced every second, each counting now and then.
    const random = prng(11);
    let h: RateHistory = NO_HISTORY;
    let next = 0;
    let live: FlowRecord[] = [];
    for (let t = 0; t < 600; t++) {
      live = live.slice(t === 0 ? 0 : 20);
      while (live.length < 200) live.push(flow({ key: `f${next++}`, firstSeenNs: t * S }));
      live = live.map((f) => (random() < 0.3 ? { ...f, packets: f.packets + 1, bytes: f.bytes + 100, lastSeenNs: t * S } : f));
      h = advance(h, snapshot({ monoNs: t * S, flows: live })).history;
      assert.ok(h.samples.length <= 42, `samples at ${t} s`);
    }
    // A slot is free again from the sample after its flow left: 200 live + a second's 20 leaving.
    assert.ok(h.slotPeakPps.length <= 200 + 20 * 2, `${h.slotPeakPps.length} slots`);
    assert.ok(h.freed.slots.length <= 20 * 2, `${h.freed.slots.length} freed slots waiting`);
    const entries = h.samples.reduce((n, x) => n + x.slots.length, 0);
    assert.ok(entries <= 42 * 200, `${entries} deltas kept`);
  });

  it('keeps 40 s of samples and no more', () => {
    const steps = run(script(seconds(0, 100), () => 100));
    const kept = times(steps[100]!.history);
    assert.deepEqual([kept.length, kept[0]], [41, 60 * S]);
    assert.deepEqual(bytesPerS(steps[100]), { w2: 100, w10: 100, w40: 100, peak: 100 });
  });

  it('merges samples closer than 0.9 s, and the averages stay exact', () => {
    // Ticks every 0.1 s for a minute: silence, then 1000 B/s from 30 s on.
    const times = Array.from({ length: 601 }, (_, i) => i / 10);
    const steps = run(script(times, (k) => (times[k]! > 30 ? 100 : 0)));
    for (const step of steps) assert.ok(step.history.samples.length <= 40 / 0.9 + 3);
    // Exact but for the rounding of tenths of a second in binary.
    const at = (t: number) => Object.fromEntries(Object.entries(bytesPerS(steps[Math.round(t * 10)])).map(([k, v]) => [k, Number(v.toPrecision(12))]));
    assert.deepEqual(at(31), { w2: 500, w10: 100, w40: Number((1000 / 31).toPrecision(12)), peak: 500 });
    assert.deepEqual(at(60), { w2: 1000, w10: 1000, w40: 750, peak: 1000 });
  });

  it('keeps the deltas of the flows that counted only, and reuses the slots of flows gone', () => {
    // 1000 flows, of which 10 keep counting; the 990 others leave at 3 s, 990 new ones come at 50 s.
    const at = (t: number) => {
      const quiet = t < 3 ? 990 : t < 50 ? 0 : 990;
      const keys = t < 50 ? 0 : 1000;
      return snapshot({
        monoNs: t * S,
        flows: [
          ...Array.from({ length: 10 }, (_, i) => flow({ key: `busy${i}`, bytes: 100 * t, packets: t })),
          ...Array.from({ length: quiet }, (_, i) => flow({ key: `f${keys + i}`, bytes: t >= 50 ? 10 * (t - 49) : 5, packets: 1 })),
        ],
      });
    };
    const steps = run(seconds(0, 60).map(at));
    const h = steps[40]!.history;
    assert.deepEqual(h.samples.slice(1).map((x) => x.slots.length), Array(h.samples.length - 1).fill(10), 'only the 10 busy flows in each sample');
    assert.equal(h.slotPeakPps.length, 1000, 'no more slots than flows ever live at once');
    assert.equal(steps[60]!.history.slotPeakPps.length, 1000, 'the new flows take the slots of the gone ones');
    assert.deepEqual(bytesPerS(steps[60], 'f1000'), { w2: 10, w10: 10, w40: 110 / 40, peak: 10 }, 'no count of the old flows mixed in');
    assert.deepEqual(bytesPerS(steps[60], 'busy0'), { w2: 100, w10: 100, w40: 100, peak: 100 });
  });

  it('a slot given to a new flow while its old flow\'s deltas are still in the windows counts the new flow only', () => {
    const steps = run([
      snapshot({ monoNs: 0, flows: [flow({ key: 'a', bytes: 0 }), flow({ key: 'b', bytes: 0 })] }),
      snapshot({ monoNs: 1 * S, flows: [flow({ key: 'a', bytes: 100 }), flow({ key: 'b', bytes: 9000 })] }),
      snapshot({ monoNs: 2 * S, flows: [flow({ key: 'a', bytes: 200 })] }),
      snapshot({ monoNs: 3 * S, flows: [flow({ key: 'a', bytes: 300 }), flow({ key: 'c', bytes: 30 })] }),
    ]);
    assert.equal(steps[3]!.history.slotOfRow[1], steps[1]!.history.slotOfRow[1], "c has b's slot");
    assert.deepEqual(bytesPerS(steps[3], 'c'), { w2: 15, w10: 10, w40: 10, peak: 15 }, "none of b's 9000 bytes");
    assert.equal(steps[3]!.table.bps40[1]! / 8, 10, 'in the columns too');
  });

  it('does not hand the slot of a flow that left to a new one in the same sample', () => {
    const steps = run([
      snapshot({ monoNs: 0, flows: [flow({ key: 'a', bytes: 0 }), flow({ key: 'b', bytes: 0 })] }),
      snapshot({ monoNs: 1 * S, flows: [flow({ key: 'a', bytes: 100 }), flow({ key: 'b', bytes: 9000 })] }),
      snapshot({ monoNs: 2 * S, flows: [flow({ key: 'a', bytes: 200 }), flow({ key: 'c', bytes: 40 })] }),
    ]);
    assert.notEqual(steps[2]!.history.slotOfRow[1], steps[1]!.history.slotOfRow[1]);
    assert.deepEqual(bytesPerS(steps[2], 'c'), { w2: 20, w10: 20, w40: 20, peak: 20 });
  });
});

describe('WINDOWS', () => {
  it('are iftop’s three', () => assert.deepEqual(WINDOWS, [2, 10, 40]));
  it('rates carry every window', () => {
    const r: FlowRate = run(script([0, 1], () => 10))[1]!.rates[0]!;
    for (const w of WINDOWS) assert.deepEqual(windowRate(r, w), { pps: 1, bps: 80 });
  });
});

/**
 * The next tick of `flows` random flows f0..: each gone (or not there yet) with chance `gone`,
 * restarted (new, or its counter reset, first seen at firstSeenNs) with chance `restart`, else
 * counting up to 49 more packets of 100 bytes.
 */
function churn(
  random: () => number,
  live: ReadonlyMap<string, FlowRecord>,
  o: { flows: number; gone: number; restart: number; firstSeenNs: number; nowNs: number },
): Map<string, FlowRecord> {
  const next = new Map<string, FlowRecord>();
  for (let k = 0; k < o.flows; k++) {
    const key = `f${k}`;
    const old = live.get(key);
    const roll = random();
    if (roll < o.gone) continue;
    const restart = !old || roll < o.restart;
    const packets = (restart ? 0 : old.packets) + Math.floor(random() * 50);
    next.set(key, flow({ key, packets, bytes: packets * 100, firstSeenNs: restart ? o.firstSeenNs : old.firstSeenNs, lastSeenNs: o.nowNs }));
  }
  return next;
}

describe('advance and computeRates agree on the interval', () => {
  it('for random flows that come, go, count and restart', () => {
    const random = prng(8);
    let live = new Map<string, FlowRecord>();
    const snaps: Snapshot[] = [];
    for (let t = 0; t < 60; t++) {
      live = churn(random, live, { flows: 30, gone: 0.1, restart: 0.15, firstSeenNs: t * S - 1e8, nowNs: t * S });
      const gap = random() < 0.1 ? 2 : 1; // a missed tick now and then
      snaps.push(snapshot({ monoNs: (snaps.length ? (snaps.at(-1)!.monoNs / S) + gap : 0) * S, flows: [...live.values()] }));
    }
    const steps = run(snaps);
    const interval = (r: FlowRate) => [r.key, r.deltaPackets, r.deltaBytes, r.pps, r.bps, r.isNew];
    for (const [i, step] of steps.entries()) {
      assert.deepEqual(step.rates.map(interval), computeRates(snaps[i - 1], snaps[i]!).map(interval), `step ${i}`);
      assert.equal(step.totals.bpsIn, computeTotals(snaps[i - 1], snaps[i]!).bpsIn);
    }
  });
});

describe('advance told to reuse (no earlier step is read any more)', () => {
  it('gives every step the rates, windows and peaks of a run that copies, through churn, gaps and merged samples', () => {
    const random = prng(21);
    let live = new Map<string, FlowRecord>();
    const snaps: Snapshot[] = [];
    let clock = 0;
    for (let t = 0; t < 90; t++) {
      // Flows gone leave their slots to newcomers.
      live = churn(random, live, { flows: 40, gone: 0.15, restart: 0.2, firstSeenNs: clock * S, nowNs: clock * S });
      snaps.push(snapshot({ monoNs: clock * S, flows: [...live.values()] }));
      const roll = random();
      clock += roll < 0.1 ? 2 : roll < 0.25 ? 0.4 : 1; // a missed tick, a sample merged
    }
    const all = (s: Step) => s.rates.map((r) => [r.key, r.deltaBytes, r.isNew, r.pps2, r.bps2, r.pps10, r.bps40, r.peakPps, r.peakBps]);
    let copied: RateHistory = NO_HISTORY;
    let reused: RateHistory = NO_HISTORY;
    let inPlace = 0;
    for (const [i, snap] of snaps.entries()) {
      const a = advance(copied, snap);
      const b = advance(reused, snap, { reuse: true });
      if (b.history.born === reused.born && b.history.slotPeakBps === reused.slotPeakBps) inPlace++;
      assert.deepEqual(all(b), all(a), `step ${i}`);
      assert.deepEqual(b.totals, a.totals, `step ${i} totals`);
      copied = a.history;
      reused = b.history;
    }
    assert.ok(inPlace > 30, `the per-slot arrays were written in place in ${inPlace} steps`);
  });
});
