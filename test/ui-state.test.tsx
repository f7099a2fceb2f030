import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGGREGATE_MODES } from '../src/model/aggregate.js';
import { filterToString } from '../src/model/filter.js';
import type { SortField } from '../src/model/sort.js';
import type { KeyAction, NamedKey } from '../src/ui/keymap.js';
import { currentLayout, selectedRow, visibleRows, type Action, type UiState } from '../src/ui/state.js';
import { at, stateAfter, storeOf, tcp, ticksOf } from './helpers/ui-fixtures.js';

const key = (k: NamedKey): KeyAction => ({ type: 'key', key: k });
const text = (t: string): KeyAction => ({ type: 'text', text: t });
const typed = (t: string): KeyAction[] => [...t].map(text);
const keys = (s: UiState): string[] => visibleRows(s).map((r) => r.key);

/**
 * Three flows whose orders differ by column: over the first second f1 sends the most bytes,
 * f2 the most packets, and f3 (older) has the most bytes in all; in the next second f2 leads.
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
    { name: '< moves left', actions: [text('<')], sort: 'bytes', descending: true, order: ['f3', 'f1', 'f2'] },
    { name: '< < moves twice', actions: [text('<'), text('<')], sort: 'packets', descending: true, order: ['f2', 'f3', 'f1'] },
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
    // At 80 columns, PPS and AGE are not shown.
    const walk = (start: SortField, press: string, times: number): SortField[] => {
      const store = storeOf({ sort: start });
      return Array.from({ length: times }, () => {
        store.dispatch(text(press));
        return store.getState().sort;
      });
    };
    assert.deepEqual(walk('sport', '>', 8), ['proto', 'src', 'dst', 'dir', 'packets', 'bytes', 'bps', 'bps']);
    assert.deepEqual(walk('sport', '<', 2), ['bps', 'bytes']);
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
    assert.deepEqual(keys(after), ['f2', 'f3', 'f1']);
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
    assert.deepEqual(keys(resumed), ['f2', 'f3', 'f1']);
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
    assert.deepEqual(currentLayout(stateAfter({}, key('enter'))), { tiny: false, tableRows: 12, paneRows: 6 });
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
