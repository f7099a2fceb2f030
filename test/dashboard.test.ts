/**
 * The dashboard on scripted samples: the pure state (keys through the shared keymap, per-interface
 * rates, chart series, talkers, protocol mix, events) and the real blessed screen drawn into a fake
 * terminal by runDashboard, read back as text, with keys written to its input.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ScriptedCollector } from '../src/collectors/scripted-collector.js';
import type { FlowRecord, Snapshot } from '../src/model/types.js';
import type { DashboardScreen } from '../src/ui/dashboard/dashboard-screen.js';
import {
  bar,
  chartData,
  dashLayout,
  dashReducer,
  eventLines,
  initialDashState,
  interfaceRates,
  protoMix,
  tableLines,
  talkerLines,
  type DashAction,
  type DashState,
} from '../src/ui/dashboard/dashboard-state.js';
import { runDashboard, type DashboardOptions } from '../src/ui/dashboard/run-dashboard.js';
import { at, HOOKS, loopOf, META, tcp, ticksOf, type Timing } from './helpers/ui-fixtures.js';

const OPTIONS: DashboardOptions & Timing = { sort: 'bps', reverse: false, filter: '', intervalS: 0.01, count: undefined, idleTimeoutS: 30 };

/** f1 1000 B/s, f2 (UDP) 200 B/s, f3 (inbound) 50 B/s; f3 starts at second 2. */
function flowsAt(s: number): FlowRecord[] {
  const list = [tcp(1, 1000 * s, 10 * s, { lastSeenNs: s * 1e9 }), tcp(2, 200 * s, 2 * s, { proto: 17, lastSeenNs: s * 1e9 })];
  if (s >= 2) list.push(tcp(3, 50 * (s - 1), s - 1, { dir: 'ingress', src: '198.51.100.7', dst: '10.0.0.3', sport: 443, dport: 50000, firstSeenNs: 1.5e9, lastSeenNs: s * 1e9 }));
  return list;
}

function* traffic(): Generator<Snapshot> {
  for (let s = 0; ; s++) yield at(s, flowsAt(s));
}

function stateAfter(actions: readonly DashAction[], over: Partial<Parameters<typeof initialDashState>[0]> = {}): DashState {
  let s = initialDashState({ meta: META, columns: 160, rows: 50, sort: 'bps', descending: true, filter: '', ...over });
  for (const a of actions) s = dashReducer(s, a);
  return s;
}

const ticks = (n: number) => ticksOf(Array.from({ length: n + 1 }, (_, s) => at(s, flowsAt(s)))).map((tick): DashAction => ({ type: 'tick', tick }));
const text = (t: string): DashAction => ({ type: 'text', text: t });

describe('dashboard state', () => {
  it('moves the sort with < and >, reverses with r, as the TUI does', () => {
    assert.equal(stateAfter([text('>')]).sort, 'age');
    assert.equal(stateAfter([text('>'), text('>')]).sort, 'age', 'stops at the last column');
    assert.equal(stateAfter([text('<')]).sort, 'pps');
    assert.equal(stateAfter([text('r')]).descending, false);
    assert.deepEqual([stateAfter([text('r'), text('b')]).sort, stateAfter([text('r'), text('b')]).descending], ['bytes', true]);
    assert.equal(stateAfter([text('p')]).sort, 'packets');
    assert.equal(stateAfter([text('<'), text('t')]).sort, 'bps');
  });

  it('opens help with ?, closes it with any key, and quits with q or Ctrl-C', () => {
    assert.equal(stateAfter([text('?')]).help, true);
    const closed = stateAfter([text('?'), text('q')]);
    assert.deepEqual([closed.help, closed.quit], [false, false], 'a key closes the help and does nothing else');
    assert.equal(stateAfter([text('q')]).quit, true);
    assert.equal(stateAfter([text('?'), { type: 'key', key: 'ctrl-c' }]).quit, true);
  });

  it('ignores the TUI keys it has no panel for', () => {
    const s = stateAfter([]);
    for (const key of ['/', 'a', 'D', ' ', 'e', 'n']) assert.equal(dashReducer(s, text(key)), s, key);
  });

  it('charts the kernel totals for one interface, flow sums per interface for several', () => {
    const [tick] = ticksOf([at(0, flowsAt(0)), at(1, flowsAt(1))]);
    assert.deepEqual(interfaceRates(tick!, ['eth0']), new Map([['eth0', { in: 0, out: 9600 }]]));
    const twoIfs = ticksOf([at(0, []), at(1, [tcp(1, 100, 1), tcp(2, 300, 1, { ifname: 'eth1', dir: 'ingress' })])])[0]!;
    assert.deepEqual(
      interfaceRates(twoIfs, ['eth0', 'eth1']),
      new Map([
        ['eth0', { in: 0, out: 800 }],
        ['eth1', { in: 2400, out: 0 }],
      ]),
    );
  });

  it('keeps five minutes of history, averaged down to the points the chart has room for', () => {
    const s = stateAfter(ticks(400));
    assert.equal(s.history.length, 300, 'one point per second for 300 s');
    const chart = chartData(s, 100);
    assert.equal(chart.labels.length, 100);
    assert.deepEqual(
      chart.series.map((x) => x.title),
      ['eth0 in', 'eth0 out'],
    );
    assert.equal(chart.unit, 'kbit/s');
    assert.ok(Math.abs(chart.series[1]!.values[50]! - 9.6) < 1e-9, 'out: 1200 B/s = 9.6 kbit/s');
    assert.equal(chart.maxY, 20);
    assert.equal(chart.labels[chart.labels.length - 1], 'now');
    assert.equal(chart.labels[0], '-4:57');
    assert.deepEqual(chartData(stateAfter([]), 10), { unit: 'bit/s', labels: [], series: [{ title: 'eth0 in', values: [] }, { title: 'eth0 out', values: [] }], maxY: 1 });
  });

  it('ranks talkers by source host and mixes protocols by bytes over the last minute', () => {
    const s = stateAfter(ticks(3));
    const lines = talkerLines(s, { top: 0, left: 0, width: 50, height: 10 });
    assert.equal(lines.length, 3);
    // 48 columns inside: 12 for the host, 11 for the rate, 23 for the bar.
    assert.match(lines[0]!, /^10\.0\.0\.1 {5}█{23} {4}8 kbit\/s$/);
    assert.match(lines[1]!, /^10\.0\.0\.2 {5}████▋ +1\.6 kbit\/s$/);
    assert.match(lines[2]!, /^198\.51\.100\.7 █▏ +400 b\/s$/);
    const mix = protoMix(s);
    assert.ok(Math.abs(mix.tcp - 3100 / 3700) < 1e-9 && Math.abs(mix.udp - 600 / 3700) < 1e-9, JSON.stringify(mix));
    assert.deepEqual([mix.icmp, mix.other], [0, 0]);
    assert.deepEqual(protoMix(stateAfter([])), { tcp: 0, udp: 0, icmp: 0, other: 0 });
    assert.equal(bar(0.5, 3), '█▌');
    assert.equal(bar(NaN, 3), '');
  });

  it('applies --filter to the table and the talkers', () => {
    const s = stateAfter(ticks(3), { filter: 'udp' });
    assert.equal(talkerLines(s, { top: 0, left: 0, width: 50, height: 10 }).length, 1);
    const rows = tableLines(s).slice(1).filter((l) => l.trim() !== '');
    assert.equal(rows.length, 1);
    assert.match(rows[0]!, /^ {2}udp +10\.0\.0\.2:40002 /);
  });

  it('tiles the terminal with its panels, at every size', () => {
    for (const [w, h] of [
      [60, 20],
      [80, 24],
      [119, 40],
      [120, 40],
      [160, 50],
      [250, 80],
    ] as const) {
      const l = dashLayout(w, h);
      const cells = new Map<string, string>();
      for (const [name, r] of Object.entries(l)) {
        assert.ok(r.width > 0 && r.height > 0, `${name} at ${w}x${h}`);
        for (let y = r.top; y < r.top + r.height; y++)
          for (let x = r.left; x < r.left + r.width; x++) {
            const key = `${x},${y}`;
            assert.equal(cells.get(key), undefined, `${name} overlaps ${cells.get(key)} at ${key} (${w}x${h})`);
            cells.set(key, name);
          }
      }
      assert.equal(cells.size, w * h, `every cell of ${w}x${h} belongs to a panel`);
    }
  });

  it('shows RTT, RETR and DROPS in the flow table when the tick has health, as the TUI does', () => {
    const health = { entries: [{ id: 's1', flows: ['f1'], rtt: { last: 1200, min: 900, max: 1500 }, retrans: 4 }], rtt: true, retrans: true, drops: true };
    const withHealth = ticksOf([0, 1, 2].map((t) => ({ ...at(t, flowsAt(t)), health }))).map((tick): DashAction => ({ type: 'tick', tick }));
    const lines = tableLines(stateAfter(withHealth, { columns: 200 }));
    assert.match(lines[0]!, /RTT +RETR +DROPS/);
    assert.ok(lines.some((l) => /10\.0\.0\.1:40001 .* 1\.20ms +4 +0$/.test(l)), lines.join('\n'));
    assert.doesNotMatch(tableLines(stateAfter(ticks(2), { columns: 200 })).join('\n'), /RTT/);
  });

  it('logs created and expired flows, newest first', () => {
    const script = [at(0, flowsAt(0)), at(1, flowsAt(1)), at(2, flowsAt(2)), at(40, flowsAt(2))];
    const s = stateAfter(ticksOf(script).map((tick): DashAction => ({ type: 'tick', tick })));
    const lines = eventLines(s, 10);
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d - (tcp|udp) /);
    assert.match(lines[3]!, /^\d\d:\d\d:\d\d \+ tcp 198\.51\.100\.7:443 → 10\.0\.0\.3:50000 in$/);
  });
});

/** A terminal for blessed: output keeps what is written; input takes key presses. */
function fakeTerminal(columns: number, rows: number) {
  const output = Object.assign(new PassThrough(), { columns, rows, isTTY: true });
  let written = '';
  output.setEncoding('utf8').on('data', (d: string) => (written += d));
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
  return { output, input, written: () => written, press: (k: string) => input.write(k) };
}

const settle = () => new Promise((r) => setTimeout(r, 30));

describe('runDashboard', () => {
  async function run(keys: (term: ReturnType<typeof fakeTerminal>, screen: () => string) => Promise<void>, o: Partial<DashboardOptions & Timing> = {}) {
    const term = fakeTerminal(160, 50);
    let shown: string[] = [];
    let screenRef: DashboardScreen | undefined;
    const collector = new ScriptedCollector(traffic(), { hooks: HOOKS });
    const running = runDashboard({
      loop: loopOf(collector, { ...OPTIONS, ...o }),
      options: { ...OPTIONS, ...o },
      stdin: term.input,
      stdout: term.output,
      terminal: 'xterm-256color',
      onDraw: (_state, screen) => {
        screenRef = screen;
        shown = screen.text();
      },
    });
    await keys(term, () => shown.join('\n'));
    await running;
    return { term, screen: shown.join('\n'), screenRef };
  }

  it('draws every panel, the heaviest flow first', async () => {
    const { screen } = await run(async () => {}, { count: 5 });
    assert.match(screen, /^tc-top dashboard {2}eth0: tc ingress\+egress \(tcx\) {2}in 400 b\/s {2}out 9\.6 kbit\/s {2}flows 3\/65536 +\? help {2}q quit$/m);
    assert.match(screen, /┌─ rate in\/out \(kbit\/s\), last 5 min ─/);
    assert.match(screen, /eth0 in/);
    assert.match(screen, /┌─ top talkers \(by source host\) ─/);
    assert.match(screen, /│10\.0\.0\.1 +█+ +8 kbit\/s│/);
    assert.match(screen, /┌─ protocol mix \(bytes, last minute\) ─/);
    assert.match(screen, /tcp +udp +icmp +other/);
    assert.match(screen, /84%/, 'tcp: 4000 of 4750 bytes over the last minute');
    assert.match(screen, /┌─ events: \+ 1 created {2}- 0 expired ─/);
    const table = screen.split('\n').filter((l) => /^│ [ +](tcp|udp) /.test(l));
    assert.equal(table.length, 3, screen);
    assert.match(table[0]!, /^│ {2}tcp +10\.0\.0\.1:40001 +192\.0\.2\.1:443 +out .* 8 kbit\/s/);
    assert.match(screen, /RATE▼/);
  });

  it('sorts with > and r, shows help on ?, and quits on q, giving the terminal back', async () => {
    const { term } = await run(async (t, screen) => {
      await settle();
      t.press('>');
      await settle();
      assert.match(screen(), /AGE▼/);
      t.press('r');
      await settle();
      assert.match(screen(), /AGE▲/);
      const rows = screen()
        .split('\n')
        .filter((l) => /^│ [ +](tcp|udp) /.test(l));
      assert.match(rows[0]!, /198\.51\.100\.7:443/, 'youngest first');
      t.press('?');
      await settle();
      assert.match(screen(), /tc-top dashboard keys \(any key closes this help\)/);
      assert.match(screen(), /q Ctrl-C +detach hooks and quit/);
      t.press('x');
      await settle();
      assert.doesNotMatch(screen(), /any key closes this help/);
      t.press('q');
    });
    const out = term.written();
    assert.ok(out.includes('\x1b[?1049h'), 'took the alternate screen');
    const tail = out.slice(out.lastIndexOf('\x1b[?1049l'));
    assert.ok(out.lastIndexOf('\x1b[?1049l') > out.lastIndexOf('\x1b[?1049h'), 'and gave it back');
    assert.ok(out.lastIndexOf('\x1b[?25h') > out.lastIndexOf('\x1b[?25l') || tail.includes('\x1b[?25h'), 'the cursor is shown again');
  });

  it('quits on Ctrl-C, and when the signal aborts', async () => {
    await run(async (t) => {
      await settle();
      t.press('\x03');
    });
    const abort = new AbortController();
    const term = fakeTerminal(100, 30);
    const running = runDashboard({ loop: loopOf(new ScriptedCollector(traffic()), OPTIONS, abort.signal), options: OPTIONS, stdin: term.input, stdout: term.output, terminal: 'xterm-256color' });
    await settle();
    abort.abort();
    await running;
  });

  it('fits an 80x24 terminal: titles cut to their borders, the protocol mix as text bars', async () => {
    const term = fakeTerminal(80, 24);
    let shown: string[] = [];
    await runDashboard({
      loop: loopOf(new ScriptedCollector(traffic(), { hooks: HOOKS }), { ...OPTIONS, count: 4 }),
      options: OPTIONS,
      stdin: term.input,
      stdout: term.output,
      terminal: 'xterm-256color',
      onDraw: (_s, screen) => (shown = screen.text()),
    });
    assert.equal(shown.length, 24);
    assert.ok(shown.every((l) => [...l].length <= 80));
    const screen = shown.join('\n');
    assert.match(screen, /┌─ protocol mix \(bytes, last …─┐/);
    assert.match(screen, /│tcp {3}█{14}▎ +84% │/);
    assert.match(screen, /│udp {3}██▊ +16% │/);
    assert.match(screen, /│10\.0\.0\.1 +█+ +8 kbit\/s│/);
    assert.match(screen, /RATE▼│/);
  });

  it('redraws for a new terminal size', async () => {
    await run(async (t, screen) => {
      await settle();
      t.output.columns = 100;
      t.output.rows = 30;
      t.output.emit('resize');
      await settle();
      await settle();
      const lines = screen().split('\n');
      assert.equal(lines.length, 30);
      assert.ok(lines.every((l) => [...l].length <= 100));
      assert.match(screen(), /top flows/);
      t.press('q');
    });
  });

  it('rejects when sampling fails, after giving the terminal back', async () => {
    const term = fakeTerminal(120, 40);
    const collector = new ScriptedCollector(traffic());
    let n = 0;
    const read = collector.read.bind(collector);
    collector.read = () => {
      if (++n > 3) throw new Error('map read failed');
      return read();
    };
    await assert.rejects(
      runDashboard({ loop: loopOf(collector, OPTIONS), options: OPTIONS, stdin: term.input, stdout: term.output, terminal: 'xterm-256color' }),
      /map read failed/,
    );
    assert.ok(term.written().lastIndexOf('\x1b[?1049l') > term.written().lastIndexOf('\x1b[?1049h'));
  });

  it('writes nothing to process.stdout and lets the process exit', async () => {
    // In a child: the test runner talks to its parent through this process's stdout.
    const script = `
      import { PassThrough } from 'node:stream';
      import { runDashboard } from './src/ui/dashboard/run-dashboard.js';
      import { RunLoop } from './src/app/run-loop.js';
      import { ScriptedCollector } from './src/collectors/scripted-collector.js';
      import { at, tcp } from './test/helpers/ui-fixtures.js';
      const output = Object.assign(new PassThrough(), { columns: 120, rows: 40, isTTY: true });
      let written = '';
      output.setEncoding('utf8').on('data', (d) => (written += d));
      const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
      const options = { sort: 'bps', reverse: false, filter: '', intervalS: 0.01, count: 3, idleTimeoutS: 30 };
      const collector = new ScriptedCollector([at(0, []), at(1, [tcp(1, 100, 1)])]);
      await runDashboard({ loop: new RunLoop({ collector, interfaces: ['eth0'], ...options }), options, stdin: input, stdout: output, terminal: 'xterm-256color' });
      process.stderr.write(written.includes('10.0.0.1:40001') ? 'drawn' : 'not drawn');
    `;
    const cwd = new URL('..', import.meta.url);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd, timeout: 20_000 });
    assert.equal(stdout, '');
    assert.equal(stderr, 'drawn');
  });
});
