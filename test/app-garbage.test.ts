/**
 * Garbage collection between ticks (src/app/garbage.ts): the policy's bound on fake buffers, V8's
 * collection as the process gets it, the run loop collecting after ticks that left much, and the
 * young generation held for large maps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fullCollection, GarbagePolicy, LARGE_MAP } from '../src/app/garbage.js';
import { RunLoop } from '../src/app/run-loop.js';
import { ScriptedCollector } from '../src/collectors/scripted-collector.js';
import type { Snapshot } from '../src/model/types.js';
import { at, HOOKS, tcp } from './helpers/ui-fixtures.js';

const MB = 2 ** 20;

describe('GarbagePolicy', () => {
  it('collects once the buffers grew by more than 32 MB, or an eighth of what was held, and reads the base again at the next tick', () => {
    let buffers = 100 * MB;
    let collected = 0;
    const policy = new GarbagePolicy(
      () => {
        collected++;
        buffers = 100 * MB; // what the sweep leaves
      },
      () => buffers,
    );
    buffers = 132 * MB;
    assert.equal(policy.afterTick(), false, '32 MB: within the bound');
    buffers = 133 * MB;
    assert.equal(policy.afterTick(), true, 'past it');
    assert.equal(collected, 1);
    // The sweep frees in the background: nothing is decided until the next tick read the base.
    buffers = 500 * MB;
    assert.equal(policy.afterTick(), false);
    buffers = 800 * MB;
    policy.beforeTick();
    // From 800 MB held, an eighth: 100 MB.
    buffers = 900 * MB;
    assert.equal(policy.afterTick(), false);
    buffers = 901 * MB;
    assert.equal(policy.afterTick(), true);
    assert.equal(policy.collections, 2);
  });

  it('follows V8 when it collected on its own (the base goes down), and does nothing without a collection to run', () => {
    let buffers = 100 * MB;
    let collected = 0;
    const policy = new GarbagePolicy(() => collected++, () => buffers);
    buffers = 40 * MB;
    assert.equal(policy.afterTick(), false);
    buffers = 73 * MB;
    assert.equal(policy.afterTick(), true, 'measured from 40 MB');
    const none = new GarbagePolicy(null, () => buffers);
    buffers = 10_000 * MB;
    assert.equal(none.afterTick(), false);
    assert.equal(collected, 1);
  });
});

describe('V8 collection at run time', () => {
  it('frees dead typed arrays (their memory returns once the background sweep ran)', async () => {
    const collect = fullCollection();
    assert.equal(typeof collect, 'function', 'Node gives the collection to a program started without --expose-gc');
    let dead: Float64Array[] | undefined = Array.from({ length: 8 }, () => new Float64Array(MB).fill(1));
    const held = process.memoryUsage().arrayBuffers;
    assert.ok(dead.length === 8 && held >= 64 * MB);
    dead = undefined;
    collect!();
    let now = process.memoryUsage().arrayBuffers;
    for (let k = 0; k < 50 && held - now < 60 * MB; k++) {
      await sleep(10);
      now = process.memoryUsage().arrayBuffers;
    }
    assert.ok(held - now >= 60 * MB, `${((held - now) / MB).toFixed(1)} MB freed of 64`);
  });

  it('the run loop collects after ticks that left tens of MB dead, and not after small ones', async () => {
    function* traffic(): Generator<Snapshot> {
      for (let s = 0; ; s++) yield at(s, [tcp(1, s * 1000, s, { lastSeenNs: s * 1e9 })]);
    }
    const run = (garbage: number): Promise<number> => {
      const loop = new RunLoop({ collector: new ScriptedCollector(traffic(), { hooks: HOOKS }), interfaces: ['eth0'], intervalS: 0.001, idleTimeoutS: 30, count: 6 });
      // A consumer that leaves `garbage` bytes of dead columns each tick, as a view at many flows does.
      let sink = 0;
      loop.subscribe({ tick: () => void (sink += new Float64Array(garbage / 8).fill(1).length) });
      return loop.run().then(() => (assert.ok(sink >= 0), loop.collections));
    };
    assert.ok((await run(48 * MB)) >= 2, 'collected after ticks leaving 48 MB');
    assert.equal(await run(MB), 0, 'not after ticks leaving 1 MB');
  });
});

describe('youngGenerationFor', () => {
  /** The young generation's size before and after a churn of short-lived objects, in a fresh process for a map of `maxFlows`. */
  async function churn(maxFlows: number): Promise<{ held: boolean; before: number; after: number }> {
    const script = `
      import { youngGenerationFor, youngGenerationSize } from './src/app/garbage.js';
      const before = youngGenerationSize();
      const held = youngGenerationFor(${maxFlows});
      // Objects a share of which survive a scavenge or two: what makes V8 grow the space.
      const ring = new Array(50_000);
      for (let i = 0; i < 3_000_000; i++) ring[i % ring.length] = { i, s: [i, i + 1] };
      process.stdout.write(JSON.stringify({ held, before, after: youngGenerationSize() }));
    `;
    const cwd = new URL('..', import.meta.url);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd, timeout: 30_000 });
    return JSON.parse(stdout) as { held: boolean; before: number; after: number };
  }

  it('a large map does not grow it past the size it has; a smaller one lets V8 grow it', async () => {
    const small = await churn(LARGE_MAP - 1);
    assert.equal(small.held, false);
    assert.ok(small.after > small.before, `grows: ${small.before} -> ${small.after}`);
    const large = await churn(LARGE_MAP);
    assert.equal(large.held, true);
    // Held: it does not grow (V8 may still shrink it, after a collection that finds it too large).
    assert.ok(large.after <= large.before, `held: ${large.before} -> ${large.after}`);
  });
});
