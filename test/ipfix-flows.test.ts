/**
 * Which records the IPFIX export gives, tick by tick, over scripted snapshots through the real run
 * loop (so expiry is the sampler's): delta counts whose sum is each flow's count, the end reasons,
 * and FlowRecords built only for the flows exported.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { RunLoop } from '../src/app/run-loop.js';
import { ScriptedCollector } from '../src/collectors/scripted-collector.js';
import type { FlowRecord, Snapshot, Tick } from '../src/model/types.js';
import { END_REASON } from '../src/output/ipfix-encoder.js';
import { FlowExportState, type FlowExport } from '../src/output/ipfix-flows.js';
import { at, EPOCH_MS, HOOKS, tcp } from './helpers/ui-fixtures.js';

interface Out {
  readonly t: number;
  readonly key: string;
  readonly packets: number;
  readonly bytes: number;
  readonly reason: number;
  readonly startS: number;
  readonly endS: number;
}

/** Runs the state over the snapshots (the first is the baseline), then ends the run; every record, with its tick. */
function run(snapshots: readonly Snapshot[], o: { activeS: number; idleS?: number }): Out[] {
  const loop = new RunLoop({ collector: new ScriptedCollector(snapshots, { hooks: HOOKS }), interfaces: ['eth0'], intervalS: 1, idleTimeoutS: o.idleS ?? 30 });
  const state = new FlowExportState(o.activeS * 1e9);
  const out: Out[] = [];
  let t = 0;
  const keep = (list: readonly FlowExport[]): void => {
    for (const e of list) {
      out.push({ t, key: e.flow.key, packets: e.packets, bytes: e.bytes, reason: e.endReason, startS: (e.startMs - EPOCH_MS) / 1000, endS: (e.endMs - EPOCH_MS) / 1000 });
    }
  };
  loop.subscribe({ baseline: (tick) => state.baseline(tick), tick: (tick) => keep(state.tick(tick)) });
  loop.prime();
  for (t = 1; t < snapshots.length; t++) loop.step();
  t = -1;
  keep(state.end());
  return out;
}

/** A flow of 10 packets of 100 bytes a second from second `from` to `to` (inclusive), cumulative. */
function steady(n: number, second: number, from: number, to: number, over: Partial<FlowRecord> = {}): FlowRecord | undefined {
  if (second < from) return undefined;
  const s = Math.min(second, to) - from + 1;
  return tcp(n, 1000 * s, 10 * s, { firstSeenNs: from * 1e9, lastSeenNs: Math.min(second, to) * 1e9, ...over });
}

function series(seconds: number, flows: (second: number) => (FlowRecord | undefined)[]): Snapshot[] {
  return Array.from({ length: seconds + 1 }, (_, s) => at(s, flows(s).filter((f): f is FlowRecord => f !== undefined)));
}

const sum = (out: readonly Out[], key: string) => ({
  packets: out.filter((o) => o.key === key).reduce((n, o) => n + o.packets, 0),
  bytes: out.filter((o) => o.key === key).reduce((n, o) => n + o.bytes, 0),
});

describe('FlowExportState', () => {
  it('gives a flow that stays a record every active timeout, then the rest at the end of the run', () => {
    const out = run(series(10, (s) => [steady(1, s, 0, 10)]), { activeS: 4 });
    assert.deepEqual(
      out.map((o) => [o.t, o.packets, o.reason, o.startS, o.endS]),
      [
        [4, 50, END_REASON.activeTimeout, 0, 4],
        [8, 40, END_REASON.activeTimeout, 4, 8],
        [-1, 20, END_REASON.forcedEnd, 8, 10],
      ],
    );
    assert.deepEqual(sum(out, 'f1'), { packets: 110, bytes: 11000 });
  });

  it('gives an expired flow its rest as idle timeout, and nothing at the end', () => {
    const out = run(series(8, (s) => [steady(1, s, 0, 2), steady(2, s, 0, 8)]), { activeS: 60, idleS: 3 });
    const f1 = out.filter((o) => o.key === 'f1');
    assert.deepEqual(f1.map((o) => [o.t, o.packets, o.reason, o.startS, o.endS]), [[6, 30, END_REASON.idleTimeout, 0, 2]]);
    assert.deepEqual(out.filter((o) => o.key === 'f2').map((o) => [o.t, o.packets, o.reason]), [[-1, 90, END_REASON.forcedEnd]]);
  });

  it('counts from the kernel entry: what a flow had before tc-top started is in its first record', () => {
    const out = run(series(2, (s) => [tcp(1, 5000 + 100 * s, 50 + s, { firstSeenNs: 0, lastSeenNs: s * 1e9 })]), { activeS: 60 });
    assert.deepEqual(out.map((o) => [o.packets, o.bytes, o.reason]), [[52, 5200, END_REASON.forcedEnd]]);
  });

  it('gives no record for a flow that counted nothing since its last one', () => {
    // Active at second 0-3, silent afterwards but not idle for long enough to expire.
    const out = run(series(9, (s) => [steady(1, s, 0, 3)]), { activeS: 2, idleS: 30 });
    assert.deepEqual(out.map((o) => [o.t, o.packets, o.reason]), [
      [2, 30, END_REASON.activeTimeout],
      [4, 10, END_REASON.activeTimeout],
    ]);
  });

  it('gives an evicted flow what was seen of it, as lack of resources', () => {
    // f1 leaves the map at second 3 without expiring (evicted); f2 stays.
    const out = run(series(4, (s) => [s < 3 ? steady(1, s, 0, 4) : undefined, steady(2, s, 0, 4)]), { activeS: 60 });
    assert.deepEqual(out.filter((o) => o.key === 'f1').map((o) => [o.t, o.packets, o.reason]), [[3, 30, END_REASON.lackOfResources]]);
  });

  it('closes the old entry of a flow recreated between two reads, then counts the new one from zero', () => {
    // Seconds 0-3: one entry (40 packets); evicted, the same key recreated at 3.5 with 5 packets a second.
    const out = run(
      series(5, (s) => [s <= 3 ? steady(1, s, 0, 3) : tcp(1, 500 * (s - 3), 5 * (s - 3), { firstSeenNs: 3.5e9, lastSeenNs: s * 1e9 })]),
      { activeS: 60 },
    );
    assert.deepEqual(out.map((o) => [o.t, o.packets, o.reason, o.startS]), [
      [4, 40, END_REASON.lackOfResources, 0],
      [-1, 10, END_REASON.forcedEnd, 3.5],
    ]);
  });

  it('builds FlowRecords only for the flows it exports', () => {
    // 5000 flows; only f7, counting since long before, is past the active timeout at the first tick.
    const many = (s: number): FlowRecord[] =>
      Array.from({ length: 5000 }, (_, n) => tcp(n, 100 * (s + 1), s + 1, { firstSeenNs: n === 7 ? -100e9 : 0, lastSeenNs: s * 1e9 }));
    const lists = [many(0), many(1), many(2)];
    const snaps = lists.map((list, s) => at(s, list));
    const state = new FlowExportState(60e9);
    const tickOf = (snapshot: Snapshot): Tick => ({ snapshot, intervalS: 1, expired: [] }) as unknown as Tick;
    // The scripted set reads keys from its records; the kernel's reads them from the key bytes.
    snaps.forEach((s, k) => mock.method(s.flows, 'keyAt', (i: number) => lists[k]![i]!.key));
    const built = snaps.map((s) => mock.method(s.flows, 'record'));
    const calls = (): number => built.reduce((n, r) => n + r.mock.callCount(), 0);
    state.baseline(tickOf(snaps[0]!));
    const first = state.tick(tickOf(snaps[1]!));
    assert.deepEqual(first.map((e) => [e.flow.key, e.packets, e.endReason]), [['f7', 2, END_REASON.activeTimeout]]);
    assert.equal(calls(), 1, 'one FlowRecord, for the one flow exported');
    assert.deepEqual(state.tick(tickOf(snaps[2]!)), []);
    assert.equal(calls(), 1);
    assert.equal(state.end().length, 5000, 'the end of the run: every flow with a count not yet exported');
  });
});
