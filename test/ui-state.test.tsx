import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGGREGATE_MODES, type AggRow } from '../src/model/aggregate.js';
import { filterToString } from '../src/model/filter.js';
import type { SortField } from '../src/model/sort.js';
import type { FlowRecord } from '../src/model/types.js';
import type { KeyAction, NamedKey } from '../src/ui/keymap.js';
import { currentLayout, selectedRow, visibleRows, type Action, type UiState } from '../src/ui/state.js';
import { at, stateAfter, storeOf, tcp, ticksOf } from './helpers/ui-fixtures.js';

const key = (k: NamedKey): KeyAction => ({ type: 'key', key: k });
const text = (t: string): KeyAction => ({ type: 'text', text: t });
const typed = (t: string): KeyAction[] => [...t].map(text);
const keys = (s: UiState): string[] => visibleRows(s).map((r) => r.key);

/**
 * Three flows whose orders differ by column: over the first second f1 sends the most bytes,
 * f2 the most packets, and f3 (older) has the most bytes in all; in the next second f2 leads,
 * and over the 2 s window f1 comes second.
 */
const script = ticksOf([
  at(0, [tcp(1, 0, 0), tcp(2, 0, 0), tcp(3, 50_000, 5)]),
  at(1, [tcp(1, 3000, 10), tcp(2, 2000, 30), tcp(3, 51_000, 25)]),
  at(2, [tcp(1, 3100, 11, { lastSeenNs: 2e9 }), tcp(2, 7000, 80, { lastSeenNs: 2e9 }), tcp(3, 52_000, 35, { lastSeenNs: 2e9 })]),
]);
const first = script[0]!;
const second = script[1]!;
const tick1: Action = { type: 'tick', tick: first };
const tick2: Action = { type: 'tick', tick: second };

/** Many flows, f1 the fastest, for scrolling. */
const many = ticksOf([
  at(0, Array.from({ length: 50 }, (_, i) => tcp(i + 1, 0, 0))),
  at(1, Array.from({ length: 50 }, (_, i) => tcp(i + 1, (50 - i) * 1000, 10))),
])[0]!;

describe('initial state', () => {
  it('takes sort, direction and filter from the options', () => {
    const s = stateAfter({ sort: 'packets', descending: false, filter: 'udp and port 53' });
    assert.equal(s.sort, 'packets');
    assert.equal(s.descending, false);
    assert.equal(filterToString(s.filter), 'udp and port 53');
    assert.equal(s.filterError, undefined);
  });

  it('shows a filter that does not parse as an error and filters nothing', () => {
    const s = stateAfter({ filter: 'port' });
    assert.equal(s.filter.kind, 'all');
    assert.equal(s.filterError?.text, 'port');
    assert.match(s.filterError?.message ?? '', /expected a port number/);
  });
});

describe('sorting', () => {
  const cases: { name: string; actions: KeyAction[]; sort: SortField; descending: boolean; order: string[] }[] = [
    { name: 'rate by default', actions: [], sort: 'bps', descending: true, order: ['f1', 'f2', 'f3'] },
    { name: 'b: bytes', actions: [text('b')], sort: 'bytes', descending: true, order: ['f3', 'f1', 'f2'] },
    { name: 'p: packets', actions: [text('p')], sort: 'packets', descending: true, order: ['f2', 'f3', 'f1'] },
    { name: 't: rate again', actions: [text('p'), text('t')], sort: 'bps', descending: true, order: ['f1', 'f2', 'f3'] },
    { name: 'r: reverse', actions: [text('r')], sort: 'bps', descending: false, order: ['f3', 'f2', 'f1'] },
    { name: 'r twice', actions: [text('r'), text('r')], sort: 'bps', descending: true, order: ['f1', 'f2', 'f3'] },
    { name: 'direct keys sort descending', actions: [text('r'), text('b')], sort: 'bytes', descending: true, order: ['f3', 'f1', 'f2'] },
    { name: '< moves left', actions: [text('<')], sort: 'pps', descending: true, order: ['f2', 'f3', 'f1'] },
    { name: '< < moves twice', actions: [text('<'), text('<')], sort: 'bytes', descending: true, order: ['f3', 'f1', 'f2'] },
    { name: '> stops at the last column', actions: [text('>')], sort: 'bps', descending: true, order: ['f1', 'f2', 'f3'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = stateAfter({}, tick1, ...c.actions);
      assert.equal(s.sort, c.sort);
      assert.equal(s.descending, c.descending);
      assert.deepEqual(keys(s), c.order);
    });
  }

  it('< and > walk the columns on screen, from a field without one to the ends', () => {
    // At 80 columns, PACKETS, AVG and AGE are not shown (unless sorted by).
    const walk = (start: SortField, press: string, times: number): SortField[] => {
      const store = storeOf({ sort: start });
      return Array.from({ length: times }, () => {
        store.dispatch(text(press));
        return store.getState().sort;
      });
    };
    assert.deepEqual(walk('sport', '>', 8), ['proto', 'src', 'dst', 'dir', 'bytes', 'pps', 'bps', 'bps']);
    assert.deepEqual(walk('sport', '<', 2), ['bps', 'pps']);
    assert.deepEqual(
      stateAfter({ columns: 120, sort: 'bps' }, text('>'), text('>')).sort,
      'age',
      'wide enough, the walk reaches AGE',
    );
  });

  it('the sort survives ticks and aggregation changes', () => {
    const s = stateAfter({}, tick1, text('p'), text('r'), text('a'), tick2, text('a'));
    assert.equal(s.sort, 'packets');
    assert.equal(s.descending, false);
    assert.equal(s.aggregation, 'dst');
  });
});

describe('selection', () => {
  it('starts on the first row and moves with the arrows and j/k', () => {
    assert.equal(selectedRow(stateAfter({}, tick1))?.key, 'f1');
    assert.equal(selectedRow(stateAfter({}, tick1, key('down')))?.key, 'f2');
    assert.equal(selectedRow(stateAfter({}, tick1, text('j'), text('j'), text('j')))?.key, 'f3', 'stops at the last row');
    assert.equal(selectedRow(stateAfter({}, tick1, text('j'), text('k'), key('up')))?.key, 'f1', 'stops at the first row');
  });

  it('stays on its flow when the table re-sorts', () => {
    const before = stateAfter({}, tick1, key('down'));
    assert.deepEqual([selectedRow(before)?.key, before.selection.rank], ['f2', 1]);
    const after = stateAfter({}, tick1, key('down'), tick2);
    assert.deepEqual(keys(after), ['f2', 'f1', 'f3']);
    assert.deepEqual([selectedRow(after)?.key, after.selection.rank], ['f2', 0]);
    const resorted = stateAfter({}, tick1, key('down'), text('b'));
    assert.deepEqual([selectedRow(resorted)?.key, resorted.selection.rank], ['f2', 2]);
  });

  it('keeps its position when its flow goes away', () => {
    const s = stateAfter({}, tick1, key('down'), ...[...'/', ...'not host 10.0.0.2'].map(text), key('enter'));
    assert.deepEqual(keys(s), ['f1', 'f3']);
    assert.deepEqual([selectedRow(s)?.key, s.selection.rank], ['f3', 1]);
  });

  it('pages, jumps to the ends, and scrolls to keep the selection on screen', () => {
    const page = currentLayout(stateAfter({})).tableRows;
    assert.equal(page, 18, '80x24: 23 lines less header (3), titles, status');
    const tick: Action = { type: 'tick', tick: many };
    const end = stateAfter({}, tick, key('end'));
    assert.deepEqual([selectedRow(end)?.key, end.selection.rank, end.scroll], ['f50', 49, 50 - page]);
    const pageDown = stateAfter({}, tick, key('pagedown'));
    assert.deepEqual([pageDown.selection.rank, pageDown.scroll], [page, 1]);
    const back = stateAfter({}, tick, key('end'), key('pageup'), key('home'));
    assert.deepEqual([back.selection.rank, back.scroll], [0, 0]);
    assert.equal(visibleRows(end).length, page);
    assert.equal(visibleRows(end).at(-1)?.key, 'f50');
  });

  it('a smaller terminal pages by less and scrolls the selection back on screen', () => {
    const s = stateAfter({}, { type: 'tick', tick: many }, key('pagedown'), { type: 'resize', columns: 80, rows: 14 });
    const page = currentLayout(s).tableRows;
    assert.equal(page, 8);
    assert.ok(s.selection.rank >= s.scroll && s.selection.rank < s.scroll + page);
  });
});

describe('filter prompt', () => {
  it('/ opens it with the current filter, Enter applies what was typed', () => {
    const open = stateAfter({ filter: 'tcp' }, tick1, text('/'));
    assert.equal(open.prompt, 'tcp');
    const s = stateAfter({ filter: 'tcp' }, tick1, text('/'), ...typed(' and host 10.0.0.3'), key('enter'));
    assert.equal(s.prompt, undefined);
    assert.equal(filterToString(s.filter), 'tcp and host 10.0.0.3');
    assert.deepEqual(keys(s), ['f3']);
  });

  it('keys are text while typing: q does not quit, backspace deletes', () => {
    const s = stateAfter({}, text('/'), ...typed('qa'), key('backspace'), text('r'));
    assert.equal(s.prompt, 'qr');
    assert.equal(s.quit, false);
    assert.equal(s.aggregation, 'flow');
  });

  it('a bad expression keeps the previous filter and shows the error until fixed', () => {
    const s = stateAfter({ filter: 'udp' }, text('/'), key('backspace'), key('backspace'), key('backspace'), ...typed('port 99999'), key('enter'));
    assert.equal(filterToString(s.filter), 'udp');
    assert.equal(s.filterError?.text, 'port 99999');
    assert.match(s.filterError?.message ?? '', /port number/);
    const reopened = stateAfter({ filter: 'udp' }, text('/'), ...typed(' or'), key('enter'), text('/'));
    assert.equal(reopened.prompt, 'udp or', 'reopens on the rejected text to fix it');
    assert.equal(reopened.filterError, undefined);
  });

  it('Esc cancels; an empty filter shows everything', () => {
    const cancelled = stateAfter({ filter: 'udp' }, text('/'), ...typed('x'), key('esc'));
    assert.deepEqual([cancelled.prompt, filterToString(cancelled.filter)], [undefined, 'udp']);
    const cleared = stateAfter({ filter: 'udp' }, tick1, text('/'), key('backspace'), key('backspace'), key('backspace'), key('enter'));
    assert.equal(cleared.filter.kind, 'all');
    assert.equal(keys(cleared).length, 3);
  });
});

describe('modes and panes', () => {
  it('a cycles through every aggregation and back', () => {
    let s = stateAfter({}, tick1);
    const seen = [s.aggregation];
    for (let i = 0; i < AGGREGATE_MODES.length; i++) {
      s = stateAfter({}, tick1, ...Array.from({ length: i + 1 }, () => text('a')));
      seen.push(s.aggregation);
    }
    assert.deepEqual(seen, [...AGGREGATE_MODES, 'flow']);
    assert.deepEqual(keys(stateAfter({}, tick1, text('a'), text('a'))), ['192.0.2.1'], 'all three share a destination');
  });

  it('space freezes the shown data while ticks go on', () => {
    const paused = stateAfter({}, tick1, text(' '), tick2);
    assert.equal(paused.live.tick, second);
    assert.equal(paused.frozen?.tick, first);
    assert.deepEqual(keys(paused), ['f1', 'f2', 'f3']);
    const resumed = stateAfter({}, tick1, text(' '), tick2, text(' '));
    assert.equal(resumed.frozen, undefined);
    assert.deepEqual(keys(resumed), ['f2', 'f1', 'f3']);
  });

  it('? opens help; any key closes it without acting', () => {
    assert.equal(stateAfter({}, text('?')).help, true);
    const s = stateAfter({}, tick1, text('?'), text('r'));
    assert.equal(s.help, false);
    assert.equal(s.descending, true);
  });

  it('Enter toggles the detail pane on the selected row (pinning it), Esc closes panes', () => {
    const s = stateAfter({}, tick1, key('enter'));
    assert.deepEqual([s.pane, s.selection.key], ['detail', 'f1']);
    assert.equal(stateAfter({}, tick1, key('enter'), key('enter')).pane, 'none');
    assert.equal(stateAfter({}, tick1, key('enter'), key('esc')).pane, 'none');
    assert.equal(stateAfter({}, text('e')).pane, 'events');
    assert.equal(stateAfter({}, text('e'), text('e')).pane, 'none');
  });

  it('a pane takes rows from the table', () => {
    assert.deepEqual(currentLayout(stateAfter({}, key('enter'))), { tiny: false, tableRows: 11, paneRows: 7 });
    assert.equal(currentLayout(stateAfter({}, { type: 'resize', columns: 59, rows: 24 })).tiny, true);
    assert.equal(currentLayout(stateAfter({}, { type: 'resize', columns: 80, rows: 11 })).tiny, true);
  });

  it('u, n and s toggle units, host names and service names', () => {
    const s = stateAfter({}, text('u'), text('n'), text('s'));
    assert.deepEqual([s.units, s.showNames, s.services], ['bytes', true, true]);
    const back = stateAfter({}, text('u'), text('n'), text('s'), text('u'), text('n'), text('s'));
    assert.deepEqual([back.units, back.showNames, back.services], ['bits', false, false]);
  });

  it('resolved names accumulate', () => {
    const s = stateAfter(
      {},
      { type: 'names', names: new Map([['10.0.0.1', 'a.example']]) },
      { type: 'names', names: new Map([['10.0.0.2', 'b.example']]) },
    );
    assert.deepEqual([...s.names], [
      ['10.0.0.1', 'a.example'],
      ['10.0.0.2', 'b.example'],
    ]);
  });
});

describe('quit and detach', () => {
  it('q and Ctrl-C quit, Ctrl-C even from the prompt and the help', () => {
    assert.equal(stateAfter({}, text('q')).quit, true);
    assert.equal(stateAfter({}, key('ctrl-c')).quit, true);
    assert.equal(stateAfter({}, text('/'), key('ctrl-c')).quit, true);
    assert.equal(stateAfter({}, text('?'), key('ctrl-c')).quit, true);
  });

  it('D asks for a detach once; afterwards ticks are ignored and the lines are kept', () => {
    const asked = stateAfter({}, tick1, text('D'));
    assert.equal(asked.detach, 'requested');
    const done = stateAfter({}, tick1, text('D'), { type: 'detached', lines: ['detached tc ingress (tcx) from eth0'] }, tick2, text('D'));
    assert.equal(done.detach, 'done');
    assert.deepEqual(done.detachLines, ['detached tc ingress (tcx) from eth0']);
    assert.equal(done.live.tick, first, 'frozen on the last tick before the detach');
    assert.equal(currentLayout(done).tableRows, 17, 'the banner takes a line');
  });
});

describe('ticks', () => {
  it('record flows created and expired as events, with their times', () => {
    const [t1, t2] = ticksOf(
      [
        at(0, [tcp(1, 0, 0)]),
        at(1, [tcp(1, 100, 1), tcp(2, 100, 1, { firstSeenNs: 0.5e9 })]),
        at(40, [tcp(1, 100, 1), tcp(2, 200, 2, { firstSeenNs: 0.5e9, lastSeenNs: 39e9 })]),
      ],
      30,
    );
    const s = stateAfter({}, { type: 'tick', tick: t1! }, { type: 'tick', tick: t2! });
    assert.deepEqual(
      s.live.events.map((e) => [e.kind, e.flow.key, e.wallMs - s.live.tick!.snapshot.wallMs]),
      [
        ['new', 'f2', -39_500],
        ['expired', 'f1', 0],
      ],
    );
  });

  it('keep the total rate of the last minute and the rates of the rows on screen', () => {
    const flows = (second: number) => [tcp(1, second * 1000, second, { lastSeenNs: second * 1e9 })];
    const ticks = ticksOf(Array.from({ length: 70 }, (_, second) => at(second, flows(second))));
    const s = stateAfter({}, ...ticks.map((tick): Action => ({ type: 'tick', tick })));
    assert.equal(s.live.totalRate.length, 60);
    assert.equal(s.live.totalRate.at(-1)?.value, 8000);
    assert.equal(s.live.rowRates.get('flow f1')?.length, 60);
    assert.equal(s.live.startNs, 0);
  });
});

describe('rate windows (1 2 3)', () => {
  // Over the last 40 s: f1 steady at 1000 B/s; f2 5000 B/s for the first 10 s, then silent; f3 silent
  // until the last 2 s, then 3000 B/s. Each window puts them in another order.
  const series = (t: number) => [
    tcp(1, 1000 * t, 10 * t, { lastSeenNs: t * 1e9 }),
    tcp(2, 5000 * Math.min(t, 10), 50 * Math.min(t, 10)),
    tcp(3, 3000 * Math.max(0, t - 38), 30 * Math.max(0, t - 38)),
  ];
  const all = ticksOf(Array.from({ length: 41 }, (_, t) => at(t, series(t))), 100).map((tick): Action => ({ type: 'tick', tick }));
  const cases: { keys: string[]; window: number; order: string[] }[] = [
    { keys: [], window: 2, order: ['f3', 'f1', 'f2'] },
    { keys: ['2'], window: 10, order: ['f1', 'f3', 'f2'] },
    { keys: ['3'], window: 40, order: ['f2', 'f1', 'f3'] },
    { keys: ['3', '1'], window: 2, order: ['f3', 'f1', 'f2'] },
    { keys: ['2', 'r'], window: 10, order: ['f2', 'f3', 'f1'] },
  ];
  for (const c of cases) {
    it(`${c.keys.join(' ') || 'default'}: the ${c.window} s window`, () => {
      const s = stateAfter({}, ...all, ...c.keys.map(text));
      assert.equal(s.window, c.window);
      assert.deepEqual(keys(s), c.order);
    });
  }

  it('--window sets the first one', () => {
    assert.deepEqual(keys(stateAfter({ window: 40 }, ...all)), ['f2', 'f1', 'f3']);
  });

  it('the selection follows its row to its rank in the new window', () => {
    const s = stateAfter({}, ...all, key('home'), text('3'));
    assert.equal(selectedRow(s)?.key, 'f3');
    assert.equal(s.selection.rank, 2);
  });
});

describe('cumulative counts (c)', () => {
  it('sorts the byte and packet columns by what they show: since start, or the last interval', () => {
    const since = stateAfter({}, tick1, text('b'));
    assert.deepEqual([since.cumulative, keys(since)], [true, ['f3', 'f1', 'f2']]);
    const interval = stateAfter({}, tick1, text('b'), text('c'));
    assert.deepEqual([interval.cumulative, keys(interval)], [false, ['f1', 'f2', 'f3']]);
    assert.deepEqual(keys(stateAfter({}, tick1, text('b'), text('c'), text('c'))), ['f3', 'f1', 'f2']);
  });
});

describe('steady order (o)', () => {
  const flows = (t: number, extra: FlowRecord[] = []) => [tcp(1, 1000 * t, t), tcp(2, 2000 * t, 2 * t), ...extra];
  const late = (n: number, bytes: number) => tcp(n, bytes, bytes / 1000, { firstSeenNs: 2.5e9 });
  const [t1, t2, t3, t4] = ticksOf([
    at(0, flows(0)),
    at(1, flows(1)),
    at(2, [tcp(1, 9000, 9), tcp(2, 2100, 3)]), // f1 overtakes f2
    at(3, [tcp(1, 9100, 10), tcp(2, 2200, 4), late(3, 90_000), late(4, 50_000)]), // two faster newcomers
    at(4, [tcp(2, 2300, 5), late(3, 90_100), late(4, 50_100)]), // f1 is gone
  ]).map((tick): Action => ({ type: 'tick', tick }));

  it('freezes the order while the numbers update, and says so', () => {
    const s = stateAfter({}, t1!, text('o'), t2!);
    assert.deepEqual(keys(s), ['f2', 'f1'], 'f1 is faster now but stays second');
    assert.equal(visibleRows(s)[1]?.bps2, ((9000 - 0) * 8) / 2, 'with the latest numbers');
    assert.deepEqual(keys(stateAfter({}, t1!, t2!)), ['f1', 'f2'], 'unfrozen, the sort decides');
  });

  it('appends new rows at the bottom (in sort order among themselves) and drops rows that are gone', () => {
    assert.deepEqual(keys(stateAfter({}, t1!, text('o'), t2!, t3!)), ['f2', 'f1', 'f3', 'f4']);
    assert.deepEqual(keys(stateAfter({}, t1!, text('o'), t2!, t3!, t4!)), ['f2', 'f3', 'f4']);
  });

  it('o again follows the sort', () => {
    const s = stateAfter({}, t1!, text('o'), t2!, t3!, text('o'));
    assert.equal(s.steady, undefined);
    assert.deepEqual(keys(s), ['f3', 'f4', 'f1', 'f2']);
  });

  it('a new sort sorts once and stays frozen', () => {
    const s = stateAfter({}, t1!, text('o'), t2!, text('b'), t3!);
    assert.ok(s.steady);
    assert.deepEqual(keys(s), ['f1', 'f2', 'f3', 'f4'], 'by bytes at the b, then the newcomers');
  });

  it('keeps the selection on its row', () => {
    const s = stateAfter({}, t1!, text('o'), key('down'), t2!, t3!);
    assert.deepEqual([selectedRow(s)?.key, s.selection.rank], ['f1', 1]);
  });

  it('a new grouping starts from its own sorted order', () => {
    const s = stateAfter({}, t1!, t2!, t3!, text('o'), text('a'));
    assert.deepEqual(keys(s), ['10.0.0.3', '10.0.0.4', '10.0.0.1', '10.0.0.2']);
  });
});

describe('conversations', () => {
  it('--aggregate conversation merges the two directions of a connection', () => {
    const out = tcp(1, 0, 0);
    const back = (bytes: number, packets: number) =>
      tcp(1, bytes, packets, { key: 'r1', src: '192.0.2.1', sport: 443, dst: '10.0.0.1', dport: 40001, dir: 'ingress' });
    const [tick] = ticksOf([at(0, [out, back(0, 0)]), at(1, [tcp(1, 1000, 10), back(8000, 8), tcp(2, 500, 5)])]);
    const s = stateAfter({ aggregation: 'conversation' }, { type: 'tick', tick: tick! });
    assert.equal(s.aggregation, 'conversation');
    const rows = visibleRows(s) as AggRow[];
    assert.deepEqual(
      rows.map((r) => [r.key, r.flows, r.ingress.bps2 / 8, r.egress.bps2 / 8, r.bps2 / 8]),
      [
        ['tcp 10.0.0.1:40001 192.0.2.1:443', 2, 8000, 1000, 9000],
        ['tcp 10.0.0.2:40002 192.0.2.1:443', 1, 0, 500, 500],
      ],
    );
  });
});
