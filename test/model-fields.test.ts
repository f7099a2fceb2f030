/**
 * The field registry: every field once, every sort key readable from a row object and from a
 * tick's columns with the same value, and every consumer (--sort, the TUI's counter columns, the
 * batch table, the JSON objects, the README) derived from it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseArgs } from '../bin/cli.js';
import { aggregate } from '../src/model/aggregate.js';
import {
  BATCH_FIELDS,
  FIELDS,
  fieldSortKey,
  fieldsMarkdown,
  flowJsonOf,
  groupJsonOf,
  SORT_FIELD_IDS,
  sortColumnOf,
  sortValueOf,
  TUI_COUNTERS,
} from '../src/model/fields.js';
import { WINDOWS } from '../src/model/windows.js';
import { batchText } from '../src/output/plain.js';
import { placeColumns } from '../src/ui/columns.js';
import { at, tcp, ticksOf } from './helpers/ui-fixtures.js';
import type { HealthSample } from '../src/model/health.js';

/** Health for flow f1 (an RTT, retransmits, drops); f2 has none: both kinds of row are in the tick. */
function health(retrans: number, drops: number): HealthSample {
  return {
    entries: [
      { id: 's1', flows: ['f1'], rtt: { last: 1200, min: 900, max: 1500 }, retrans },
      { id: 'd1', flows: ['f1'], ifname: 'eth0', drops: new Map([['NETFILTER_DROP', drops]]) },
    ],
    rtt: true,
    retrans: true,
    drops: true,
  };
}
import { addressSortKey } from '../src/model/address.js';
import { tupleKey, type OwnerSample } from '../src/model/owners.js';

// Flow 1's socket has an owner, flow 2 none: the owner members and PROC's sort keys are held to both.
const OWNERS: OwnerSample = {
  table: [{ pid: 4242, comm: 'curl', uid: 1000, user: 'ann', cgroup: '/user.slice/app.scope', container: 'app' }],
  byTuple: new Map([[tupleKey(6, addressSortKey('10.0.0.1'), 40001, addressSortKey('192.0.2.1'), 443), 0]]),
  local: new Set([addressSortKey('10.0.0.1'), addressSortKey('10.0.0.2')]),
};
const [tick] = ticksOf([
  { ...at(0, [tcp(1, 0, 0), tcp(2, 0, 0, { dir: 'ingress', src: '192.0.2.1', dst: '10.0.0.2', sport: 443, dport: 40002 })]), health: health(1, 2), owners: OWNERS },
  { ...at(1, [tcp(1, 3000, 3), tcp(2, 1200, 10, { dir: 'ingress', src: '192.0.2.1', dst: '10.0.0.2', sport: 443, dport: 40002 })]), health: health(4, 5), owners: OWNERS },
]);
const flows = tick!.rates;
const [plainTick] = ticksOf([at(0, [tcp(1, 0, 0)]), at(1, [tcp(1, 3000, 3)])]);
const HEALTH_FIELDS = ['rtt', 'retrans', 'drops'];

describe('the field registry', () => {
  it('names each field once', () => {
    const ids = FIELDS.map((f) => f.id);
    assert.equal(new Set(ids).size, ids.length);
    const json = FIELDS.flatMap((f) => (f.json ?? []).map((m) => m.name));
    assert.equal(new Set(json).size, json.length, 'each JSON member once');
  });

  for (const id of SORT_FIELD_IDS) {
    it(`${id}: each of its sort keys reads the same from a flow object and from the columns`, () => {
      for (const w of WINDOWS) {
        for (const cumulative of [true, false]) {
          const key = fieldSortKey(id, w, cumulative);
          const column = sortColumnOf(key, tick!.table);
          assert.equal(column.length, flows.length);
          flows.forEach((f, i) => assert.deepEqual(sortValueOf(key, f), column[i], `${key}, row ${i}`));
        }
      }
    });
  }

  it('refuses a sort key no field gives', () => {
    assert.throws(() => sortValueOf('nope', flows[0]!), /no field sorts by 'nope'/);
  });

  it("is --sort's list of choices", () => {
    for (const id of SORT_FIELD_IDS) {
      const o = parseArgs(['--sort', id, '--json'], false);
      assert.ok('sort' in o && o.sort === id);
    }
    assert.throws(() => parseArgs(['--sort', 'nope'], false), /Invalid values/);
  });

  it("is the TUI's counter columns, in its order", () => {
    const titles = placeColumns('flow', 400, { health: true, owners: true }).map((c) => c.column.title);
    const counters = TUI_COUNTERS.map((f) => (f.tui?.title ? f.tui.title({ window: undefined }) : f.title));
    assert.deepEqual(titles.slice(-counters.length), counters);
    const without = placeColumns('flow', 400).map((c) => c.column.title);
    const plain = TUI_COUNTERS.filter((f) => !f.tui?.health && !f.tui?.owners).map((f) => (f.tui?.title ? f.tui.title({ window: undefined }) : f.title));
    assert.deepEqual(without.slice(-plain.length), plain, 'without health and owners (--no-tcp-stats, --no-processes) their columns are not there');
  });

  it("is the batch table's columns, in its order", () => {
    const text = batchText({
      snapshot: tick!.snapshot,
      intervalS: 1,
      rows: aggregate(flows, 'proto'),
      aggregate: 'proto',
      window: 2,
      totals: tick!.totals,
      expired: [],
      interfaces: ['eth0'],
      hooks: [],
    });
    const header = text.split('\n').find((l) => l.startsWith('PROTO'));
    assert.deepEqual(header?.split(/ {2,}/), BATCH_FIELDS.map((f) => f.title));
  });

  it("is the JSON objects' members, flows and groups", () => {
    const flowNames = FIELDS.flatMap((f) => (f.json ?? []).filter((m) => m.flow).map((m) => m.name));
    assert.deepEqual(Object.keys(flowJsonOf(flows[0]!, tick!.snapshot, flows[0])), flowNames);
    const groupNames = FIELDS.flatMap((f) => (f.json ?? []).filter((m) => m.group).map((m) => m.name));
    assert.deepEqual(Object.keys(groupJsonOf(aggregate(flows, 'proto')[0]!, tick!.snapshot)), ['key', 'flows', ...groupNames]);
    const expired = flowJsonOf(flows[0]!, tick!.snapshot);
    assert.equal('pps' in expired, false, 'an expired flow has no rates');
    const plain = plainTick!.rates[0]!;
    const plainNames = FIELDS.filter((f) => !HEALTH_FIELDS.includes(f.id) && !f.tui?.owners).flatMap((f) => (f.json ?? []).filter((m) => m.flow).map((m) => m.name));
    assert.deepEqual(Object.keys(flowJsonOf(plain, plainTick!.snapshot, plain)), plainNames, 'without health and owners, none of their members');
  });

  it("is the README's fields table and --sort list", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const m = /<!-- fields:start -->\n([\s\S]*?)\n<!-- fields:end -->/.exec(readme);
    assert.ok(m, 'README.md has a fields table between <!-- fields:start --> and <!-- fields:end -->');
    assert.equal(m[1], fieldsMarkdown(), `paste this between the markers in README.md:\n${fieldsMarkdown()}`);
    const sort = /--sort +(\S+)/.exec(readme);
    assert.equal(sort?.[1], SORT_FIELD_IDS.join('|'), "the usage's --sort choices");
  });
});

describe('avg: the average packet size', () => {
  const cases = [
    { name: 'bytes over packets', bytes: 3000, packets: 3, want: 1000, text: '1000' },
    { name: 'rounded in the table', bytes: 1000, packets: 3, want: 333.333, text: '333' },
    { name: 'no packets: none', bytes: 0, packets: 0, want: null, text: '-' },
  ];
  const avg = FIELDS.find((f) => f.id === 'avg')!;
  for (const c of cases) {
    it(c.name, () => {
      const [t] = ticksOf([at(0, []), at(1, [tcp(1, c.bytes, c.packets)])]);
      const row = t!.rates[0]!;
      assert.equal(flowJsonOf(row, t!.snapshot, row).avg, c.want);
      assert.equal(avg.tui!.cell(row, { window: 2 }, { units: 'bits', nowNs: 1e9 }), c.text);
      assert.equal(avg.batch!.cell(row, 2), c.text === '-' ? '0' : c.text);
    });
  }

  it('sorts by the counts since start, or of the last interval with c; flows without packets last', () => {
    const [, t] = ticksOf([
      at(0, [tcp(1, 0, 0), tcp(2, 0, 0), tcp(3, 0, 0)]),
      at(1, [tcp(1, 1000, 10), tcp(2, 1500, 1), tcp(3, 0, 0)]),
      at(2, [tcp(1, 16000, 20), tcp(2, 1700, 2), tcp(3, 0, 0)]),
    ]);
    const order = (key: string) =>
      Array.from(sortColumnOf(key, t!.table))
        .map((v, i) => [v, t!.table.flows.keyAt(i)] as const)
        .sort((a, b) => (Number.isNaN(a[0]) ? 1 : Number.isNaN(b[0]) ? -1 : (b[0] as number) - (a[0] as number)))
        .map(([, k]) => k);
    assert.equal(fieldSortKey('avg', 2, true), 'avg');
    assert.equal(fieldSortKey('avg', 2, false), 'deltaAvg');
    assert.deepEqual(order('avg'), ['f2', 'f1', 'f3'], 'since start: 800 and 850 B');
    assert.deepEqual(order('deltaAvg'), ['f1', 'f2', 'f3'], 'last interval: 1500 and 200 B');
  });

  it('is in the TUI (where the width allows), --batch, --json and --sort', () => {
    assert.ok(placeColumns('flow', 160).some((c) => c.column.title === 'AVG'));
    assert.ok(!placeColumns('flow', 78).some((c) => c.column.title === 'AVG'), 'the first to go when narrow');
    assert.ok(BATCH_FIELDS.some((f) => f.title === 'AVG'));
    assert.ok(SORT_FIELD_IDS.includes('avg'));
  });
});

describe('rtt, retrans, drops: health per flow', () => {
  const [first, second] = ticksOf([
    { ...at(0, [tcp(1, 0, 0), tcp(2, 0, 0)]), health: health(0, 0) },
    { ...at(1, [tcp(1, 3000, 3), tcp(2, 1000, 1)]), health: health(3, 2) },
    { ...at(2, [tcp(1, 6000, 6), tcp(2, 2000, 2)]), health: health(10, 2) },
  ]);
  const field = (id: string) => FIELDS.find((f) => f.id === id)!;
  const ctx = { units: 'bits' as const, nowNs: 2e9 };

  it('shows the RTT, the retransmits and drops since start, or of the interval with c; - where nothing is known', () => {
    const [f1, f2] = second!.rates;
    assert.equal(field('rtt').tui!.cell(f1!, {}, ctx), '1.20ms');
    assert.equal(field('rtt').tui!.cell(f2!, {}, ctx), '-');
    assert.equal(field('retrans').tui!.cell(f1!, {}, ctx), '10');
    assert.equal(field('retrans').tui!.cell(f1!, { cumulative: false }, ctx), '7');
    assert.equal(field('drops').tui!.cell(f1!, {}, ctx), '2');
    assert.equal(field('drops').tui!.cell(f1!, { cumulative: false }, ctx), '0');
    assert.equal(field('retrans').tui!.cell(f2!, {}, ctx), '0', 'a flow without events: none counted');
    assert.equal(first!.rates[0]!.health?.deltaRetrans, 3);
  });

  it('writes rtt_us {last, min, max, source}, retrans and drops {reason: count} in --json; a flow without RTT has null', () => {
    const [f1, f2] = second!.rates;
    const j1 = flowJsonOf(f1!, second!.snapshot, f1);
    assert.deepEqual([j1.rtt_us, j1.retrans, j1.drops], [{ last: 1200, min: 900, max: 1500, source: 'socket' }, 10, { NETFILTER_DROP: 2 }]);
    const j2 = flowJsonOf(f2!, second!.snapshot, f2);
    assert.deepEqual([j2.rtt_us, j2.retrans, j2.drops], [null, 0, {}]);
    const g = groupJsonOf(aggregate(second!.rates, 'proto')[0]!, second!.snapshot);
    assert.deepEqual([g.rtt_us, g.retrans, g.drops], [{ last: 1200, min: 900, max: 1500, source: 'socket' }, 10, { NETFILTER_DROP: 2 }]);
  });

  it('sorts by them, flows without a value last; drop ranks keep every layout without them, PPS and RATE first', () => {
    assert.deepEqual(Array.from(sortColumnOf('rtt', second!.table)), [1200, NaN]);
    assert.equal(fieldSortKey('retrans', 2, false), 'deltaRetrans');
    assert.equal(fieldSortKey('drops', 2, true), 'drops');
    for (const id of HEALTH_FIELDS) assert.ok(SORT_FIELD_IDS.includes(id));
    for (const width of [78, 100, 120, 140]) {
      const titles = (health: boolean) => placeColumns('flow', width, { health }).map((c) => c.column.title);
      const others = titles(true).filter((t) => !['RTT', 'RETR', 'DROPS'].includes(t));
      assert.deepEqual(others, titles(false), `at ${width} columns the health columns are the first to go`);
    }
    assert.deepEqual(placeColumns('flow', 78, { health: true }).map((c) => c.column.title), placeColumns('flow', 78).map((c) => c.column.title), 'none at 80');
    assert.ok(placeColumns('flow', 180, { health: true }).some((c) => c.column.title === 'RTT'), 'where the width allows');
    const narrow = placeColumns('flow', 78, { health: true }, 'rtt').map((c) => c.column.title);
    assert.ok(narrow.includes('RTT') && narrow.includes('RATE'), `the sort column stays: ${narrow.join(' ')}`);
  });
});

describe('proc: the local process', () => {
  const proc = FIELDS.find((f) => f.id === 'proc')!;
  it("shows comm[pid], '-' for none, and in JSON pid, comm, uid and cgroup (null for none)", () => {
    assert.equal(proc.tui!.cell(flows[0]!, {}, { units: 'bits', nowNs: 1e9 }), 'curl[4242]');
    assert.equal(proc.tui!.cell(flows[1]!, {}, { units: 'bits', nowNs: 1e9 }), '-');
    const own = flowJsonOf(flows[0]!, tick!.snapshot, flows[0]);
    assert.deepEqual([own.pid, own.comm, own.uid, own.cgroup], [4242, 'curl', 1000, '/user.slice/app.scope']);
    const none = flowJsonOf(flows[1]!, tick!.snapshot, flows[1]);
    assert.deepEqual([none.pid, none.comm, none.uid, none.cgroup], [null, null, null, null]);
    const [mixed] = aggregate(flows, 'proto').map((g) => groupJsonOf(g, tick!.snapshot));
    assert.deepEqual([mixed!.pid, mixed!.cgroup], [null, null], "a group's mixed owners are null");
    const [byProcess] = aggregate([flows[0]!], 'process').map((g) => groupJsonOf(g, tick!.snapshot));
    assert.deepEqual([byProcess!.key, byProcess!.pid, byProcess!.comm, byProcess!.uid, byProcess!.cgroup], ['4242 curl', 4242, 'curl', 1000, '/user.slice/app.scope']);
  });

  it('--batch has PROC, RTT, RETR and DROPS when the tick has owners and health, as the TUI, and not without', () => {
    const text = (t: typeof tick) => batchText({ ...t!, rows: t!.rates, aggregate: 'flow', window: 2, interfaces: ['eth0'], hooks: [] });
    const withBoth = text(tick);
    assert.match(withBoth, /^PROTO +SOURCE +DESTINATION +DIR +IFACE +PROC +PACKETS +BYTES +PPS +RATE +AVG +RTT +RETR +DROPS$/m);
    assert.match(withBoth, /^tcp +10\.0\.0\.1:40001 +192\.0\.2\.1:443 +out +eth0 +curl\[4242\] .* 1\.20ms +4 +5$/m);
    assert.match(withBoth, /^tcp +192\.0\.2\.1:443 +10\.0\.0\.2:40002 +in +eth0 +- .* - +0 +0$/m);
    assert.doesNotMatch(text(plainTick), /PROC|RTT|RETR|DROPS/);
  });

  it('is left out without owners (--no-processes): no column, no JSON members', () => {
    const [plain] = ticksOf([at(0, [tcp(1, 0, 0)]), at(1, [tcp(1, 10, 1)])]);
    const row = plain!.rates[0]!;
    assert.equal('pid' in flowJsonOf(row, plain!.snapshot, row), false);
    assert.equal('pid' in groupJsonOf(aggregate([row], 'proto')[0]!, plain!.snapshot), false);
    assert.equal(placeColumns('flow', 400).some((c) => c.column.title === 'PROC'), false);
  });

  it('goes before PPS and RATE when narrow: at 80 columns the rates stay, at 120 PROC shows too', () => {
    const at80 = placeColumns('flow', 78, { owners: true }).map((c) => c.column.title);
    assert.ok(at80.includes('PPS') && at80.includes('RATE') && !at80.includes('PROC'), at80.join(' '));
    const at120 = placeColumns('flow', 118, { owners: true }).map((c) => c.column.title);
    assert.ok(at120.includes('PROC') && at120.includes('PPS') && at120.includes('RATE'), at120.join(' '));
  });
});
