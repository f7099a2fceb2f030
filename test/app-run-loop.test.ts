/**
 * The run loop on scripted samples: one read and one tick per interval whatever the consumers, the
 * baseline first, the count, stop(), the signal, detach() and errors.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { RunLoop } from '../src/app/run-loop.js';
import { ScriptedCollector } from '../src/collectors/scripted-collector.js';
import type { Snapshot, Tick } from '../src/model/types.js';
import { at, HOOKS, settle, tcp } from './helpers/ui-fixtures.js';

function* traffic(): Generator<Snapshot> {
  for (let s = 0; ; s++) yield at(s, [tcp(1, s * 1000, s, { lastSeenNs: s * 1e9 })]);
}

function loop(o: { count?: number; intervalS?: number; signal?: AbortSignal } = {}) {
  const collector = new ScriptedCollector(traffic(), { hooks: HOOKS });
  const read = mock.method(collector, 'read');
  const close = mock.method(collector, 'close');
  const run = new RunLoop({ collector, interfaces: ['eth0'], intervalS: o.intervalS ?? 0.005, idleTimeoutS: 30, count: o.count, signal: o.signal });
  return { run, reads: () => read.mock.callCount(), closes: () => close.mock.callCount() };
}

describe('RunLoop', () => {
  it('reads once per tick, however many consumers, and hands each the same tick in order', async () => {
    const { run, reads } = loop({ count: 3 });
    const seen: [string, Tick][] = [];
    for (const name of ['tui', 'exporter', 'json']) run.subscribe({ tick: (t) => seen.push([name, t]) });
    await run.run();
    assert.equal(reads(), 4, 'the baseline read, then one per tick');
    assert.equal(run.count, 3);
    assert.deepEqual(seen.map(([n]) => n), ['tui', 'exporter', 'json', 'tui', 'exporter', 'json', 'tui', 'exporter', 'json']);
    for (let k = 0; k < 9; k += 3) assert.ok(seen[k]![1] === seen[k + 1]![1] && seen[k]![1] === seen[k + 2]![1], 'one tick object per interval');
  });

  it('gives the baseline first, to the consumers that ask for it', async () => {
    const { run } = loop({ count: 1 });
    const order: string[] = [];
    run.subscribe({ baseline: (t) => order.push(`baseline ${t.intervalS}`), tick: () => order.push('tick') });
    await run.run();
    assert.deepEqual(order, ['baseline 0', 'tick']);
  });

  it('keeps its schedule: count ticks take about count intervals', async () => {
    const { run } = loop({ count: 5, intervalS: 0.04 });
    const t0 = performance.now();
    await run.run();
    assert.ok(performance.now() - t0 >= 5 * 40 - 5, 'no tick before its time');
  });

  it('ends on stop() and on the signal', async () => {
    const a = loop({ intervalS: 60 });
    const running = a.run.run();
    await settle();
    a.run.stop();
    await running;
    assert.equal(a.run.count, 0);

    const abort = new AbortController();
    const b = loop({ intervalS: 60, signal: abort.signal });
    const running2 = b.run.run();
    await settle();
    abort.abort();
    await running2;
  });

  it('detach() closes the collector once and stops ticking; run() waits for stop()', async () => {
    const { run, reads, closes } = loop();
    const running = run.run();
    await settle();
    const lines = run.detach();
    const readsAtDetach = reads();
    await settle();
    await settle();
    assert.equal(reads(), readsAtDetach, 'no read after the detach');
    let ended = false;
    void running.then(() => (ended = true));
    await settle();
    assert.equal(ended, false, 'still running: the view shows its last table');
    run.stop();
    await running;
    assert.equal(closes(), 1);
    assert.deepEqual(run.close(), lines, 'close() hands the detach lines on, for when the terminal is back');
    assert.deepEqual(run.close(), [], 'once');
  });

  it('rejects with the error of a read or of a consumer', async () => {
    const { run } = loop();
    run.subscribe({
      tick: () => {
        throw new Error('consumer failed');
      },
    });
    await assert.rejects(run.run(), /consumer failed/);

    const collector = new ScriptedCollector(traffic());
    let n = 0;
    mock.method(collector, 'read', () => {
      if (++n > 2) throw new Error('map read failed');
      return at(n, []);
    });
    await assert.rejects(new RunLoop({ collector, interfaces: [], intervalS: 0.005, idleTimeoutS: 30 }).run(), /map read failed/);
  });

  it('retires a tick once the next is handed out, unless a consumer holds it; a retired tick has no flows left', () => {
    const { run } = loop();
    let paused: Tick | undefined;
    run.subscribe({ tick: () => undefined, holds: (t) => t === paused });
    run.prime();
    const first = run.step();
    assert.equal(first.table.length, 1, 'the newest tick reads');
    const second = run.step();
    assert.equal(first.snapshot.flows.length, 0, 'the older one let its flows go');
    assert.equal(first.table.length, 0);
    assert.deepEqual(first.rates, []);
    assert.equal(first.totals.activeFlows, 1, 'its totals stay (a few numbers)');
    assert.equal(first.snapshot.monoNs, 1e9, 'and its times');
    paused = second;
    run.step();
    run.step();
    assert.equal(second.table.flows.length, 1, 'held: still read while the view is paused');
    assert.equal(second.rates[0]?.key, 'f1');
    paused = undefined;
    const last = run.step();
    assert.equal(second.table.length, 0, 'let go at the next tick after the view resumed');
    assert.equal(last.table.length, 1);
  });

  it('a held tick reads later as it would have when it was new: its windows and peaks are not written by the ticks after it', () => {
    // Flows come and go every tick, so the model gives the slots of flows gone to new ones.
    function* churn(): Generator<Snapshot> {
      for (let s = 0; ; s++) {
        const flows = [0, 1, 2, 3].map((k) => tcp(s + k, (s + 1) * (k + 1) * 1000, s + k + 1, { firstSeenNs: (s - 0.5) * 1e9, lastSeenNs: s * 1e9 }));
        yield at(s, flows);
      }
    }
    const make = () => new RunLoop({ collector: new ScriptedCollector(churn(), { hooks: HOOKS }), interfaces: ['eth0'], intervalS: 1, idleTimeoutS: 30 });
    const seen = (t: Tick) => t.table.all().map((r) => [r.key, r.bps2, r.bps10, r.bps40, r.peakPps, r.peakBps, r.deltaBytes]);
    // The reference: each tick read as it comes.
    const fresh = make();
    fresh.prime();
    const want: unknown[] = [];
    for (let k = 0; k < 6; k++) want.push(seen(fresh.step()));
    // The same ticks, the fourth held (as by a paused view) and read only five ticks later.
    const run = make();
    let paused: Tick | undefined;
    run.subscribe({ tick: (t) => void (paused ??= t.snapshot.monoNs === 4e9 ? t : undefined), holds: (t) => t === paused });
    run.prime();
    for (let k = 0; k < 9; k++) run.step();
    assert.ok(paused, 'the fourth tick was held');
    assert.deepEqual(seen(paused), want[3]);
  });
});
