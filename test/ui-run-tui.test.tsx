import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it, mock } from 'node:test';
import { promisify } from 'node:util';
import { ScriptedCollector } from '../src/collectors/scripted-collector.js';
import type { Snapshot } from '../src/model/types.js';
import { NameResolver, type ReverseDns } from '../src/names/resolver.js';
import { runTui, type TuiOptions } from '../src/ui/run-tui.js';
import { at, fakeTerminal, HOOKS, loopOf, settle, tcp, type Timing } from './helpers/ui-fixtures.js';

const OPTIONS: TuiOptions & Timing = { sort: 'bps', reverse: false, filter: '', intervalS: 0.02, count: undefined, idleTimeoutS: 30 };

/** An endless script: f1 sends 1000 bytes a second. */
function* traffic(): Generator<Snapshot> {
  for (let s = 0; ; s++) yield at(s, [tcp(1, s * 1000, s, { lastSeenNs: s * 1e9 })]);
}

function counted(collector: ScriptedCollector): { reads: () => number } {
  const read = mock.method(collector, 'read');
  return { reads: () => read.mock.callCount() };
}

describe('runTui', () => {
  it('stops after options.count ticks and leaves the last frame', async () => {
    const term = fakeTerminal();
    const collector = new ScriptedCollector(traffic(), { hooks: HOOKS });
    const { reads } = counted(collector);
    await runTui({ loop: loopOf(collector, { ...OPTIONS, count: 3 }), options: OPTIONS, ...term.io });
    assert.equal(reads(), 4, 'a priming read, then one per tick');
    assert.match(term.stdout.written, /tc-top {2}eth0: tc ingress\+egress \(tcx\)/);
    assert.match(term.stdout.written, /10\.0\.0\.1:40001/);
  });

  it('quits on q, and on Ctrl-C', async () => {
    for (const key of ['q', '\u0003']) {
      const term = fakeTerminal();
      const collector = new ScriptedCollector(traffic(), { hooks: HOOKS });
      const running = runTui({ loop: loopOf(collector, { ...OPTIONS, intervalS: 60 }), options: OPTIONS, ...term.io });
      await settle();
      term.stdin.press(key);
      await running;
    }
  });

  it('ends when the signal aborts', async () => {
    const term = fakeTerminal();
    const abort = new AbortController();
    const running = runTui({ loop: loopOf(new ScriptedCollector(traffic()), OPTIONS, abort.signal), options: OPTIONS, ...term.io });
    await settle();
    abort.abort();
    await running;
  });

  it('D detaches once, stops sampling, and keeps the table with a banner', async () => {
    const term = fakeTerminal();
    const collector = new ScriptedCollector(traffic(), { hooks: HOOKS });
    const { reads } = counted(collector);
    const onDetach = mock.method(collector, 'close');
    const running = runTui({ loop: loopOf(collector, OPTIONS, new AbortController().signal), options: OPTIONS, ...term.io });
    await settle();
    term.stdin.press('D');
    await settle();
    term.stdin.press('D');
    const readsAtDetach = reads();
    await settle();
    await settle();
    assert.equal(reads(), readsAtDetach, 'no read after the detach');
    assert.equal(onDetach.mock.callCount(), 1);
    term.stdin.press('q');
    await running;
    assert.match(term.stdout.written, /hooks detached, table frozen \(q quits\); detached tc ingress \(tcx\) from eth0; d…/);
  });

  it('paused, keeps its tick (sorting and filtering it again) while the loop ticks on', async () => {
    const term = fakeTerminal();
    const collector = new ScriptedCollector(traffic(), { hooks: HOOKS });
    const { reads } = counted(collector);
    const running = runTui({ loop: loopOf(collector, OPTIONS), options: OPTIONS, ...term.io });
    // Bounded waits on the reads, long enough for a loaded machine (under CI=true Ink writes only
    // the last frame, at the end, so the frames in between cannot be waited for).
    const until = async (ok: () => boolean, ms: number): Promise<void> => {
      for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await settle();
    };
    await until(() => reads() >= 3, 10_000);
    await settle();
    term.stdin.press(' ');
    await settle();
    const readsAtPause = reads();
    await until(() => reads() >= readsAtPause + 5, 10_000);
    // Sorted by another column, then reversed: the frozen tick's flows are read again.
    term.stdin.press('p');
    await settle();
    term.stdin.press('r');
    await settle();
    term.stdin.press('q');
    await running;
    assert.ok(reads() >= readsAtPause + 5, 'the loop ticked on while paused');
    const written = term.stdout.written;
    const last = written.slice(written.lastIndexOf('tc-top  eth0'));
    assert.match(last, /10\.0\.0\.1:40001/, 'the paused table still has its flow, five ticks later');
    assert.match(last, /paused/i);
  });

  it('writes nothing to process.stdout and lets the process exit', async () => {
    // In a child: the test runner itself talks to its parent through this process's stdout.
    const script = `
      import { runTui } from './src/ui/run-tui.js';
      import { RunLoop } from './src/app/run-loop.js';
      import { ScriptedCollector } from './src/collectors/scripted-collector.js';
      import { at, fakeTerminal, tcp } from './test/helpers/ui-fixtures.js';
      const term = fakeTerminal();
      const options = { sort: 'bps', reverse: false, filter: '', intervalS: 0.01, count: 3, idleTimeoutS: 30 };
      const collector = new ScriptedCollector([at(0, []), at(1, [tcp(1, 100, 1)])]);
      setTimeout(() => term.stdin.press('n'), 5);
      await runTui({ loop: new RunLoop({ collector, interfaces: ['eth0'], ...options }), options, ...term.io });
      process.stderr.write(term.stdout.written.includes('10.0.0.1:40001') ? 'drawn' : 'not drawn');
    `;
    const cwd = new URL('..', import.meta.url);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd,
      timeout: 20_000,
    });
    assert.equal(stdout, '');
    assert.equal(stderr, 'drawn');
  });

  it('rejects when sampling fails, after giving the terminal back', async () => {
    const term = fakeTerminal();
    const collector = new ScriptedCollector(traffic());
    let n = 0;
    mock.method(collector, 'read', () => {
      if (++n > 2) throw new Error('map read failed');
      return at(n, []);
    });
    await assert.rejects(
      runTui({ loop: loopOf(collector, OPTIONS, new AbortController().signal), options: OPTIONS, ...term.io }),
      /map read failed/,
    );
  });
});

describe('ScriptedCollector', () => {
  it('replays its snapshots, then repeats the last', () => {
    const c = new ScriptedCollector([at(0, []), at(1, [tcp(1, 10, 1)])]);
    assert.deepEqual([c.read().monoNs, c.read().monoNs, c.read().monoNs], [0, 1e9, 1e9]);
  });

  it('hides a deleted flow until it has new packets, and counts deletions', () => {
    const c = new ScriptedCollector([
      at(1, [tcp(1, 10, 1, { lastSeenNs: 1e9 })]),
      at(2, [tcp(1, 10, 1, { lastSeenNs: 1e9 })]),
      at(3, [tcp(1, 20, 2, { lastSeenNs: 3e9 })]),
    ]);
    c.read();
    assert.equal(c.deleteFlows(['f1', 'nope']), 1);
    const hidden = c.read();
    assert.deepEqual([hidden.flows.length, hidden.flowsDeleted], [0, 1]);
    assert.equal(c.read().flows.length, 1);
  });

  it('closes once, one line per hook, and is not read after', () => {
    const c = new ScriptedCollector([at(0, [])], { hooks: HOOKS });
    assert.deepEqual(c.close(), ['detached tc ingress (tcx) from eth0', 'detached tc egress (tcx) from eth0']);
    assert.deepEqual(c.close(), []);
    assert.throws(() => c.read(), /closed/);
  });
});

describe('NameResolver', () => {
  function fakeDns(answers: Record<string, string[] | Error>) {
    const asked: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const cancel = mock.fn();
    const dns: ReverseDns = {
      cancel,
      reverse: async (addr: string) => {
        asked.push(addr);
        await gate;
        const answer = answers[addr];
        if (answer instanceof Error || answer === undefined) throw answer ?? new Error('ENOTFOUND');
        return answer;
      },
    };
    return { dns, cancel, asked, release: () => release() };
  }

  it('asks each address once, a few at a time, and reports names', async () => {
    const fake = fakeDns({ a: ['a.example'], b: [], c: new Error('ETIMEOUT'), d: ['d.example', 'other'], e: ['e.example'] });
    const names: [string, string][] = [];
    const resolver = new NameResolver((addr, name) => names.push([addr, name]), fake.dns);
    resolver.want(['a', 'b', 'a', 'c', 'd', 'e']);
    assert.deepEqual(fake.asked, ['a', 'b', 'c', 'd'], 'at most four in flight');
    fake.release();
    await settle();
    resolver.want(['a', 'e']);
    await settle();
    assert.deepEqual(fake.asked, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(names, [
      ['a', 'a.example'],
      ['d', 'd.example'],
      ['e', 'e.example'],
    ]);
  });

  it('close cancels the queries and drops the answers', async () => {
    const fake = fakeDns({ a: ['a.example'] });
    const names: string[] = [];
    const resolver = new NameResolver((_, name) => names.push(name), fake.dns);
    resolver.want(['a']);
    resolver.close();
    fake.release();
    await settle();
    assert.deepEqual(names, []);
    assert.equal(fake.cancel.mock.callCount(), 1);
    resolver.want(['b']);
    assert.deepEqual(fake.asked, ['a']);
  });
});
