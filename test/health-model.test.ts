/**
 * Health joined to a tick's flows (src/model/health.ts): one socket entry to both directions'
 * flows, one drop entry to the flows of its packet, the interval's deltas, groups, and the filter
 * over the tick's columns.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate } from '../src/model/aggregate.js';
import { matchingRows, parseFilter } from '../src/model/filter.js';
import { RecordFlowSet } from '../src/model/flow-set.js';
import { combineHealth, dropReasonsText, formatRttUs, healthRow, joinHealth, type HealthSample } from '../src/model/health.js';
import { flow } from './helpers/model-fixtures.js';
import { at, tcp, ticksOf } from './helpers/ui-fixtures.js';

const FLOWS = new RecordFlowSet([
  flow({ key: 'out', dir: 'egress' }),
  flow({ key: 'in', dir: 'ingress' }),
  flow({ key: 'udp', proto: 17 }),
]);

function sample(entries: HealthSample['entries'], parts: Partial<HealthSample> = {}): HealthSample {
  return { entries, rtt: true, retrans: true, drops: true, ...parts };
}

describe('joinHealth', () => {
  it("joins a socket's entry to both its flows and a drop entry to its packet's flow", () => {
    const h = joinHealth(
      FLOWS,
      sample([
        { id: 's', flows: ['out', 'in', 'elsewhere'], rtt: { last: 1500, min: 1000, max: 2000 }, retrans: 4 },
        { id: 'd', flows: ['udp', 'udp-egress'], ifname: 'eth0', drops: new Map([['NO_SOCKET', 3], ['NETFILTER_DROP', 1]]) },
      ]),
      undefined,
    );
    assert.deepEqual(Array.from(h.rttLast), [1500, 1500, NaN]);
    assert.deepEqual(Array.from(h.rttMin), [1000, 1000, NaN]);
    assert.deepEqual(Array.from(h.retrans), [4, 4, 0]);
    assert.deepEqual(Array.from(h.drops), [0, 0, 4]);
    assert.equal(dropReasonsText(healthRow(h, 2).dropReasons), 'NO_SOCKET 3, NETFILTER_DROP 1');
    assert.deepEqual(healthRow(h, 2).rttUs, undefined);
    assert.deepEqual([...h.deltaDropsByIface], [['eth0\u0000NO_SOCKET', 3], ['eth0\u0000NETFILTER_DROP', 1]]);
  });

  it("a handshake's RTT fills only the flows without a socket's: the socket's wins, and the row says which it shows", () => {
    const h = joinHealth(
      FLOWS,
      sample([
        { id: 's', flows: ['out'], rtt: { last: 1500, min: 1000, max: 2000 } },
        { id: 'h', flows: ['out', 'in'], rtt: { last: 900, min: 900, max: 900, handshake: true } },
      ]),
      undefined,
    );
    assert.deepEqual(Array.from(h.rttLast), [1500, 900, NaN]);
    assert.deepEqual(Array.from(h.rttMax), [2000, 900, NaN]);
    assert.deepEqual(healthRow(h, 0).rttUs, { last: 1500, min: 1000, max: 2000 });
    assert.deepEqual(healthRow(h, 1).rttUs, { last: 900, min: 900, max: 900, handshake: true });
  });

  const cases: { name: string; prev: number | undefined; cur: number; want: number }[] = [
    { name: 'the first read: all of it', prev: undefined, cur: 5, want: 5 },
    { name: 'the difference', prev: 5, cur: 9, want: 4 },
    { name: 'no change', prev: 9, cur: 9, want: 0 },
    { name: 'made again (expired, evicted): all of it', prev: 9, cur: 2, want: 2 },
  ];
  for (const c of cases) {
    it(`interval deltas: ${c.name}`, () => {
      const entry = (n: number) => ({ id: 's', flows: ['out'], retrans: n, drops: new Map([['NO_SOCKET', n]]), ifname: 'eth0' });
      const h = joinHealth(FLOWS, sample([entry(c.cur)]), c.prev === undefined ? undefined : sample([entry(c.prev)]));
      assert.equal(h.deltaRetrans[0], c.want);
      assert.equal(h.deltaDrops[0], c.want);
    });
  }

  it("leaves '-' (NaN) where the kernel refused the hook, 0 where it counts and nothing happened", () => {
    const h = joinHealth(FLOWS, sample([], { retrans: false }), undefined);
    assert.deepEqual(Array.from(h.retrans), [NaN, NaN, NaN]);
    assert.deepEqual(Array.from(h.drops), [0, 0, 0]);
    assert.equal(healthRow(h, 0).retrans, undefined);
  });

  it('an interval without ACKs keeps the last RTT, without min and max', () => {
    const h = joinHealth(FLOWS, sample([{ id: 's', flows: ['out'], rtt: { last: 700 } }]), undefined);
    assert.deepEqual(healthRow(h, 0).rttUs, { last: 700, min: undefined, max: undefined });
  });
});

describe('health on a tick', () => {
  const health = (retrans: number) => sample([{ id: 's', flows: ['f1'], rtt: { last: 30_000, min: 20_000, max: 40_000 }, retrans }]);
  const [t] = ticksOf([
    { ...at(0, [tcp(1, 0, 0), tcp(2, 0, 0)]), health: health(1) },
    { ...at(1, [tcp(1, 100, 1), tcp(2, 100, 1)]), health: health(6) },
  ]);

  it('gives each flow object its health', () => {
    assert.deepEqual(t!.rates[0]!.health?.rttUs, { last: 30_000, min: 20_000, max: 40_000 });
    assert.equal(t!.rates[0]!.health?.deltaRetrans, 5);
    assert.equal(t!.rates[1]!.health?.retrans, 0);
  });

  it("filters on the tick's columns", () => {
    const filter = parseFilter('rtt > 10ms');
    assert.ok(filter.ok);
    assert.deepEqual(Array.from(matchingRows(filter.filter, t!.table.flows, { health: t!.table.health })), [0]);
    assert.deepEqual(Array.from(matchingRows(filter.filter, t!.table.flows)), [], 'without health, no flow has an RTT');
  });

  it("a group spans its members' RTT and sums their counts", () => {
    const [g] = aggregate(t!.rates, 'proto');
    assert.deepEqual(g!.health?.rttUs, { last: 30_000, min: 20_000, max: 40_000 });
    assert.equal(g!.health?.retrans, 6);
    const both = combineHealth(
      { rttUs: { last: 5, min: 1, max: 9 }, retrans: 1, deltaRetrans: 1, drops: 0, deltaDrops: 0, dropReasons: new Map([['A', 1]]) },
      { rttUs: { last: 7, min: 3, max: 8 }, retrans: 2, deltaRetrans: 0, drops: 1, deltaDrops: 1, dropReasons: new Map([['A', 2]]) },
    );
    assert.deepEqual(both?.rttUs, { last: 7, min: 1, max: 9 });
    assert.deepEqual([both?.retrans, both?.drops, [...both!.dropReasons]], [3, 1, [['A', 3]]]);
  });

  it('formats an RTT', () => {
    assert.deepEqual([850, 1234, 12_345, 1_500_000, undefined].map(formatRttUs), ['850us', '1.23ms', '12.3ms', '1.50s', '-']);
  });
});
