/**
 * Group ids kept across ticks (src/model/group-ids.ts): a lineage of ticks whose flows come, go
 * and come back in new slots, grouped every tick in every mode, against aggregate() over the flows
 * as objects; and the ways a table leaves the lineage's order (an older tick grouped again, a
 * second step from one history), which must group from nothing and still be right.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate, AGGREGATE_MODES, type AggregateMode } from '../src/model/aggregate.js';
import { matchingRows, parseFilter, type Filter } from '../src/model/filter.js';
import { memoStats } from '../src/model/group-ids.js';
import { GroupTable } from '../src/model/group-table.js';
import type { RateTable } from '../src/model/rate-table.js';
import { advance, NO_HISTORY, type RateHistory, type Step } from '../src/model/windows.js';
import { kernelSet, readOf } from './helpers/kernel-flows.js';
import { prng, snapshot } from './helpers/model-fixtures.js';

const S = 1e9;
const POOL = 600;
const { keys } = kernelSet(POOL, 31);
const FILTER = (parseFilter('tcp or net 10.0.0.0/24 or ip6') as { filter: Filter }).filter;

/** The next step: a fifth of the live flows gone, half of the gone back (in new slots), the order sometimes reversed. */
function walk(h: RateHistory, t: number, alive: Uint8Array, packets: Float64Array, random: () => number): Step {
  const live: number[] = [];
  for (let i = 0; i < POOL; i++) {
    alive[i] = alive[i] ? (random() < 0.2 ? 0 : 1) : random() < 0.5 ? 1 : 0;
    if (!alive[i]) {
      packets[i] = 0;
      continue;
    }
    packets[i] = packets[i]! + (random() < 0.5 ? 1 + Math.floor(random() * 100) : 0);
    live.push(i);
  }
  if (random() < 0.3) live.reverse();
  return advance(h, { ...snapshot({ monoNs: t * S }), flows: readOf(keys, live, packets, t) });
}

/** Groups of the table under a mode (all rows, or the filter's) against aggregate() of its rows as objects. */
function assertGroups(table: RateTable, mode: AggregateMode, label: string): void {
  const whole = new GroupTable(table, mode);
  assert.deepEqual(whole.all(), aggregate(table.all(), mode), `${label}: ${mode}`);
  const picked = matchingRows(FILTER, table.flows);
  const some = new GroupTable(table, mode, picked);
  assert.deepEqual(some.all(), aggregate(table.rows(Array.from(picked)), mode), `${label}: ${mode}, filtered`);
  // Keys kept from earlier ticks name the groups as aggregate() does.
  for (let g = 0; g < whole.length; g += 7) assert.equal(whole.indexOfKey(whole.keyOf(g)), g);
}

describe('group ids kept across the ticks of a history', () => {
  const random = prng(7);
  const alive = new Uint8Array(POOL).fill(1);
  const packets = new Float64Array(POOL);
  const steps: Step[] = [];
  let h: RateHistory = NO_HISTORY;
  for (let t = 0; t < 40; t++) {
    const step = walk(h, t, alive, packets, random);
    steps.push(step);
    h = step.history;
  }

  it('every tick, every mode: the groups of aggregate(), all rows and a filter’s, while flows come, go and take freed slots', () => {
    const given = new Map<AggregateMode, number>();
    let fresh = 0;
    for (const [t, step] of steps.entries()) {
      const table = step.table;
      for (const mode of AGGREGATE_MODES) {
        const before = memoStats(table, mode);
        assertGroups(table, mode, `tick ${t}`);
        const after = memoStats(table, mode);
        if (mode === 'process' || mode === 'cgroup') {
          assert.equal(after, undefined, `${mode} groups by owner: nothing kept`);
          continue;
        }
        // This tick was the lineage's latest: the memo's ids are its; new ids only for flows new to the lineage.
        assert.equal(after!.step, table.identity!.step);
        const isNew = table.isNew.reduce((a, b) => a + b, 0);
        if (before && before.restarts === after!.restarts && t > 0) {
          const added = after!.ids - before.ids;
          assert.ok(added <= isNew, `tick ${t} ${mode}: ${added} ids for ${isNew} new flows`);
        }
        given.set(mode, (given.get(mode) ?? 0) + 1);
      }
      if (t > 0) fresh += table.isNew.reduce((a, b) => a + b, 0);
    }
    assert.ok(fresh > 5 * POOL, `flows new to the lineage: ${fresh}`);
    // The ids outgrew the flows at least once, and started again.
    assert.ok(memoStats(steps.at(-1)!.table, 'conversation')!.restarts >= 1, 'a restart');
    assert.ok(steps.some((s) => s.table.identity!.born.length < POOL), 'slots reused: fewer than the pool');
  });

  it('an older tick grouped again (a paused view): from nothing, the same groups, and the memo left at the latest', () => {
    const latest = memoStats(steps.at(-1)!.table, 'conversation')!;
    for (const t of [3, 20, 38]) for (const mode of ['conversation', 'src', 'pair', 'port'] as const) assertGroups(steps[t]!.table, mode, `old tick ${t}`);
    assert.deepEqual(memoStats(steps.at(-1)!.table, 'conversation'), latest);
  });

  it('a second step from one history starts a lineage of its own; both go on grouping right', () => {
    const from = steps[30]!.history;
    const branch = walk(from, 31, new Uint8Array(POOL), new Float64Array(POOL), prng(99));
    assert.notEqual(branch.table.identity!.lineage, steps[31]!.table.identity!.lineage);
    assert.equal(branch.table.identity!.step, 1);
    const next = walk(branch.history, 32, new Uint8Array(POOL).fill(1), new Float64Array(POOL), prng(98));
    for (const mode of ['conversation', 'host-conversation', 'dst', 'proto'] as const) {
      assertGroups(branch.table, mode, 'branch');
      assertGroups(next.table, mode, 'branch, next');
    }
    // The first lineage goes on from its latest.
    const after = walk(steps.at(-1)!.history, 40, alive, packets, random);
    assert.equal(after.table.identity!.lineage, steps[0]!.table.identity!.lineage);
    for (const mode of ['conversation', 'flow'] as const) assertGroups(after.table, mode, 'main, next');
    assert.equal(memoStats(after.table, 'conversation')!.step, after.table.identity!.step);
  });
});
