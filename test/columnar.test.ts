/**
 * The columnar paths against the object paths they replace: the kernel collector's FlowSet over
 * raw key bytes against the records it decodes, filters on columns against matches(), the table's
 * top-N and ranks against topN/sortRows over every row, window columns against rows, and groups on
 * the columns (with health and owners) against aggregate(). No kernel needed: keys and values are
 * written in the map's layout by hand.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KernelFlowSet, ValueColumns, decodeValues } from '../src/collectors/kernel-flows.js';
import { FlowKey, FlowValue, perCpuSlot } from '../src/ffi/layout.js';
import {
  advance,
  aggregate,
  AGGREGATE_MODES,
  allRecords,
  GROUP_SUMS,
  GroupTable,
  matches,
  NO_HISTORY,
  parseFilter,
  RecordFlowSet,
  SORT_FIELDS,
  sortKey,
  sortRows,
  topN,
  type Filter,
  type FlowRecord,
  type FlowSet,
  type RateHistory,
  type Snapshot,
  type Step,
} from '../src/model/index.js';
import { matchingRows } from '../src/model/filter.js';
import { addressSortKey } from '../src/model/address.js';
import { GROUP_HEALTH, type GroupHealth } from '../src/model/group-table.js';
import type { HealthEntry, HealthRow, HealthSample } from '../src/model/health.js';
import { candidateKeys, type Owner, type OwnerSample } from '../src/model/owners.js';
import type { AggRow, FlowRate } from '../src/model/index.js';
import { withoutKeys } from '../src/model/flow-set.js';
import { MATCH_ALL } from '../src/model/filter.js';
import { tableRows } from '../src/model/rows.js';
import { initialDashState, topTalkers } from '../src/ui/dashboard/dashboard-state.js';
import { jsonLine, plainWriter } from '../src/output/plain.js';
import { prng, snapshot } from './helpers/model-fixtures.js';
import { META } from './helpers/ui-fixtures.js';
import { ifname, kernelSet, readOf } from './helpers/kernel-flows.js';

const S = 1e9;

/** The rows of `set` in another order: a second read of the same map. */
function shuffled(keys: Buffer, values: Buffer, n: number, seed: number): KernelFlowSet {
  const random = prng(seed);
  const order = Array.from({ length: n }, (_, i) => i).sort(() => random() - 0.5);
  const k = Buffer.alloc(keys.length);
  const v = Buffer.alloc(values.length);
  order.forEach((from, to) => {
    keys.copy(k, to * FlowKey.size, from * FlowKey.size, (from + 1) * FlowKey.size);
    values.copy(v, to * FlowValue.size, from * FlowValue.size, (from + 1) * FlowValue.size);
  });
  return new KernelFlowSet(k, decodeValues(v, n, 1, FlowValue.size), ifname);
}

describe('KernelFlowSet: the columns of a map read', () => {
  const { set, keys, values } = kernelSet(500, 1);
  const records = allRecords(set);

  it('decodes each row as the record of its key and value', () => {
    const r = records[7]!;
    const o = 7 * FlowKey.size;
    assert.equal(r.key, keys.toString('hex', o, o + FlowKey.size));
    assert.equal(r.family, keys[o + FlowKey.family]);
    assert.equal(r.sport, keys.readUInt16LE(o + FlowKey.sport));
    assert.equal(r.ifname, ifname(keys.readUInt32LE(o + FlowKey.ifindex)));
    assert.equal(r.packets, Number(values.readBigUInt64LE(7 * FlowValue.size)));
    assert.equal(r.tcpFlags, 7);
    assert.equal(set.record(7), r, 'the same object every time');
    for (const [i, rec] of records.entries()) {
      assert.deepEqual([set.family(i), set.proto(i), set.sport(i), set.dport(i), set.dir(i), set.ifname(i)], [rec.family, rec.proto, rec.sport, rec.dport, rec.dir, rec.ifname]);
    }
  });

  it('finds every row by key, in its own and in another read, whatever the order or the hint', () => {
    for (let i = 0; i < set.length; i++) assert.equal(set.indexOfKey(records[i]!.key), i);
    const other = shuffled(keys, values, set.length, 2);
    for (let j = 0; j < other.length; j++) {
      const i = set.find(other, j, j); // a hint that is mostly wrong
      assert.equal(set.keyAt(i), other.keyAt(j));
      assert.equal(set.find(other, j, i), i, 'and with the right hint');
    }
    assert.equal(set.indexOfKey('00'.repeat(FlowKey.size)), -1);
    assert.equal(set.indexOfKey('not hex'), -1);
  });

  it('does not find a flow the other read lacks', () => {
    const { set: other } = kernelSet(50, 99);
    const mine = new Set(records.map((r) => r.key));
    for (let j = 0; j < other.length; j++) {
      if (!mine.has(other.keyAt(j))) assert.equal(set.find(other, j, 0), -1);
    }
  });

  it('orders keys as their hex strings order', () => {
    const random = prng(3);
    for (let n = 0; n < 2000; n++) {
      const i = Math.floor(random() * set.length);
      const j = Math.floor(random() * set.length);
      const a = set.keyAt(i);
      const b = set.keyAt(j);
      assert.equal(Math.sign(set.compareKeys(i, j)), a < b ? -1 : a > b ? 1 : 0);
    }
  });

  it('filters on its columns as matches() does on the records', () => {
    const texts = [
      'tcp',
      'udp or icmp',
      'ip6',
      'port 443',
      'src port 22 or dst port 53',
      'portrange 1000-9000',
      'host 10.0.0.1',
      'src net 10.0.0.0/24',
      'dst host 8.8.8.8',
      'net 2001:db8::/32',
      'host 2001:db8::1',
      'host ::ffff:0:1',
      'net fe80::/10 and ingress',
      'not port 22',
      'iface veth1 and egress',
      'not (tcp and net 192.168.0.0/16)',
    ];
    for (const text of texts) {
      const parsed = parseFilter(text);
      assert.ok(parsed.ok, text);
      const filter: Filter = parsed.filter;
      const want = records.flatMap((r, i) => (matches(filter, r) ? [i] : []));
      assert.deepEqual([...matchingRows(filter, set)], want, text);
      assert.ok(want.length > 0 || text.includes('::ffff'), `${text} matches something`);
    }
  });

  it('sort keys of addresses agree with the records', () => {
    const recordSet = new RecordFlowSet(records);
    for (let i = 0; i < set.length; i++) {
      for (const which of ['src', 'dst'] as const) assert.equal(set.addressSortKey(i, which), recordSet.addressSortKey(i, which));
    }
  });

  it('compares and hashes addresses as their text, without making it', () => {
    const sets: FlowSet[] = [set, new RecordFlowSet(records), set.subset([...Array(set.length).keys()].reverse())];
    const random = prng(8);
    for (const flows of sets) {
      const text = (i: number, which: 'src' | 'dst') => flows.record(i)[which];
      let same = 0;
      for (let n = 0; n < 5000; n++) {
        const i = Math.floor(random() * flows.length);
        const j = Math.floor(random() * flows.length);
        const a = random() < 0.5 ? 'src' : 'dst';
        const b = random() < 0.5 ? 'src' : 'dst';
        const equal = text(i, a) === text(j, b);
        assert.equal(flows.sameAddress(i, a, j, b), equal, `${text(i, a)} ${text(j, b)}`);
        if (equal) assert.equal(flows.addressHash(i, a), flows.addressHash(j, b));
        same += equal ? 1 : 0;
      }
      assert.ok(same > 100, 'the pools make equal addresses');
    }
    const fresh = kernelSet(50, 1).set;
    for (let i = 0; i < fresh.length; i++) for (const which of ['src', 'dst'] as const) assert.equal(fresh.address(i, which), records[i]![which]);
  });

  it('keeps its rows and keys in a subset, and drops keys asked for', () => {
    const sub = set.subset([5, 1, 400]);
    assert.deepEqual(allRecords(sub).map((r) => r.key), [5, 1, 400].map((i) => records[i]!.key));
    assert.deepEqual([...sub.packets], [5, 1, 400].map((i) => records[i]!.packets));
    assert.equal(sub.indexOfKey(records[400]!.key), 2);
    const without = withoutKeys(set, [records[0]!.key, records[499]!.key, 'nope']);
    assert.equal(without.length, 498);
    assert.equal(without.indexOfKey(records[0]!.key), -1);
    assert.equal(without.keyAt(0), records[1]!.key);
  });

  it('names the rows whose key an earlier row already has', () => {
    const twice = Buffer.concat([keys.subarray(0, 10 * FlowKey.size), keys.subarray(3 * FlowKey.size, 4 * FlowKey.size)]);
    const dup = new KernelFlowSet(twice, decodeValues(values, 11, 1, FlowValue.size), ifname);
    assert.deepEqual(dup.duplicates(), [10]);
  });

  it('keeps the last row of the keys asked about (a walk of the slots met the flow again ahead)', () => {
    const at = (i: number) => keys.subarray(i * FlowKey.size, (i + 1) * FlowKey.size);
    // Rows: k0 k1 k2 k1 k3 k1 k0 -> keep rows 2, 4, 5 (k1's last), 6 (k0's last).
    const rows = Buffer.concat([0, 1, 2, 1, 3, 1, 0].map(at));
    const dup = new KernelFlowSet(rows, decodeValues(values, 7, 1, FlowValue.size), ifname);
    assert.deepEqual(dup.duplicates().sort((a, b) => a - b), [3, 5, 6]);
    assert.deepEqual(dup.repeatsOf([5]).sort(), [1, 3]);
    assert.deepEqual(dup.repeatsOf([6, 5, 3]).sort(), [0, 1, 3]);
    assert.deepEqual(dup.repeatsOf([2, 4]), []);
    assert.deepEqual(dup.repeatsOf([]), []);
  });
});

describe('ValueColumns', () => {
  it('sums the per-CPU slots: packets and bytes added, earliest first seen, latest last seen, flags ORed', () => {
    const slot = perCpuSlot(FlowValue.size);
    const v = Buffer.alloc(2 * 3 * slot);
    const put = (entry: number, cpu: number, p: number, b: number, first: number, last: number, flags: number) => {
      const o = (entry * 3 + cpu) * slot;
      v.writeBigUInt64LE(BigInt(p), o + FlowValue.packets);
      v.writeBigUInt64LE(BigInt(b), o + FlowValue.bytes);
      v.writeBigUInt64LE(BigInt(first), o + FlowValue.firstSeen);
      v.writeBigUInt64LE(BigInt(last), o + FlowValue.lastSeen);
      v.writeUInt32LE(flags, o + FlowValue.tcpFlags);
    };
    put(0, 0, 2, 200, 50, 70, 0x02);
    put(0, 2, 3, 300, 40, 90, 0x10);
    put(1, 1, 2 ** 40, 2 ** 50, 5, 6, 0);
    const c = decodeValues(v, 2, 3, slot);
    assert.deepEqual([...c.packets], [5, 2 ** 40]);
    assert.deepEqual([...c.bytes], [500, 2 ** 50]);
    assert.deepEqual([...c.firstSeenNs], [40, 5]);
    assert.deepEqual([...c.lastSeenNs], [90, 6]);
    assert.deepEqual([...c.tcpFlags], [0x12, 0]);
  });

  it('takes a read batch by batch, grows, and starts over on begin()', () => {
    const { values } = kernelSet(300, 4);
    const whole = decodeValues(values, 300, 1, FlowValue.size);
    const sink = new ValueColumns(1, FlowValue.size, 16);
    sink.take(Buffer.from('junk'.repeat(FlowValue.size)), 0, 1);
    sink.begin();
    for (let first = 0; first < 300; first += 64) {
      const count = Math.min(64, 300 - first);
      sink.take(values.subarray(first * FlowValue.size, (first + count) * FlowValue.size), first, count);
    }
    const got = sink.done();
    assert.deepEqual([...got.packets], [...whole.packets]);
    assert.deepEqual([...got.lastSeenNs], [...whole.lastSeenNs]);
  });
});

/**
 * Owners that make the process and cgroup groups and labels differ: two owners of one process key
 * ('100 nginx', other cgroups: the group's owner is mixed), one cgroup of two processes, and an
 * owner without a cgroup path (in the cgroup group '-' with the flows that have no owner).
 */
const OWNER_TABLE: Owner[] = [
  { pid: 100, comm: 'nginx', uid: 33, user: 'www-data', cgroup: '/system.slice/nginx.service', container: 'nginx' },
  { pid: 100, comm: 'nginx', uid: 33, user: 'www-data', cgroup: '/system.slice/web.service', container: 'web' },
  { pid: 200, comm: 'curl', uid: 1000, user: 'ann', cgroup: '/system.slice/nginx.service', container: 'nginx' },
  { pid: 300, comm: 'dig', uid: 1000, user: 'ann', cgroup: undefined, container: undefined },
  { pid: 400, comm: 'ssh', uid: 1000, user: 'ann', cgroup: '/user.slice/session-2.scope', container: undefined },
];
const DROP_REASONS = ['NO_SOCKET', 'NETFILTER_DROP', 'TCP_CSUM', 'OTHERHOST'];

/** Owners for about half of the flows of `set`: a socket key of each, taken by one of OWNER_TABLE. */
function ownerSample(set: FlowSet, random: () => number): OwnerSample {
  const local = new Set(['10.0.0.1', '10.0.0.2', '2001:db8::1'].map(addressSortKey));
  const byTuple = new Map<string, number>();
  for (let i = 0; i < set.length; i++) {
    const keys = candidateKeys(set, i, local);
    if (keys.length === 0 || random() < 0.4) continue;
    byTuple.set(keys[Math.floor(random() * keys.length)]!, Math.floor(random() * OWNER_TABLE.length));
  }
  return { table: OWNER_TABLE, byTuple, local };
}

/**
 * Health entries over the flows of `set`, each joined to one flow or two (a socket's two
 * directions, or any two): some with an RTT (with or without min and max), some with
 * retransmits, some with drops by reason; their counts grow tick by tick.
 */
function healthEntries(set: FlowSet, random: () => number): { flows: string[]; rtt: boolean; retrans: boolean; drops: string[] }[] {
  return Array.from({ length: Math.floor(set.length / 3) }, () => {
    const a = Math.floor(random() * set.length);
    const b = Math.floor(random() * set.length);
    return {
      flows: random() < 0.5 ? [set.keyAt(a)] : [set.keyAt(a), set.keyAt(b)],
      rtt: random() < 0.6,
      retrans: random() < 0.5,
      drops: DROP_REASONS.filter(() => random() < 0.3),
    };
  });
}

/**
 * Ticks of random flows over a kernel set's keys: they come, go, count, and a few reorder; each
 * tick has health (a tick without retransmits, one without drops: the kernel refused the hook) and
 * owners. With `records`, each read is given as FlowRecords instead (RecordFlowSet, as scripted
 * input is).
 */
function kernelSteps(n: number, ticks: number, seed: number, records = false): Step[] {
  const random = prng(seed);
  const { keys, set: full } = kernelSet(n, seed);
  // Their own sequence, so that the flows are those of the same seed without them.
  const extra = prng(seed + 1000);
  const owners = ownerSample(full, extra);
  const entries = healthEntries(full, extra);
  const retrans = new Float64Array(entries.length);
  const drops = entries.map(() => new Map<string, number>());
  const packets = new Float64Array(n);
  const steps: Step[] = [];
  let h: RateHistory = NO_HISTORY;
  for (let t = 0; t < ticks; t++) {
    const live: number[] = [];
    for (let i = 0; i < n; i++) {
      if (random() < 0.05) packets[i] = 0; // gone this tick
      else {
        packets[i] = packets[i]! + (random() < 0.3 ? Math.floor(random() * 1000) : 0);
        live.push(i);
      }
    }
    if (random() < 0.5) live.reverse();
    const read = readOf(keys, live, packets, t);
    const flows: FlowSet = records ? new RecordFlowSet(allRecords(read)) : read;
    const health: HealthEntry[] = entries.map((e, x) => {
      retrans[x] = retrans[x]! + (extra() < 0.3 ? Math.floor(extra() * 4) : 0);
      for (const reason of e.drops) drops[x]!.set(reason, (drops[x]!.get(reason) ?? 0) + Math.floor(extra() * 5));
      const last = 100 + Math.floor(extra() * 5000);
      const rtt = extra() < 0.7 ? { last, min: last - Math.floor(extra() * 100), max: last + Math.floor(extra() * 900) } : { last };
      return {
        id: `e${x}`,
        flows: e.flows,
        ...(e.rtt ? { rtt } : {}),
        ...(e.retrans ? { retrans: retrans[x] } : {}),
        ...(e.drops.length > 0 ? { ifname: 'eth0', drops: new Map(drops[x]) } : {}),
      };
    });
    const sample: HealthSample = { entries: health, rtt: true, retrans: t !== 3, drops: t !== 4 };
    const step = advance(h, { ...snapshot({ monoNs: t * S, health: sample, owners }), flows } satisfies Snapshot);
    steps.push(step);
    h = step.history;
  }
  return steps;
}

describe('the table against every row as an object', () => {
  const steps = kernelSteps(1500, 12, 5);
  const last = steps.at(-1)!;
  const tick = { snapshot: last.history.last!, intervalS: last.intervalS, table: last.table, totals: last.totals, expired: [], rates: last.rates };

  it('window columns agree with the rows to the last bit, past the few-rows path too', () => {
    const rows = last.table.all();
    for (const column of ['pps2', 'bps2', 'pps10', 'bps10', 'pps40', 'bps40', 'peakPps', 'peakBps'] as const) {
      assert.deepEqual([...last.table[column]], rows.map((r) => r[column]), column);
    }
    const few = steps.at(-2)!.table.rows([3, 1000, 7]);
    assert.deepEqual(few.map((r) => r.bps40), [3, 1000, 7].map((i) => steps.at(-2)!.table.bps40[i]));
  });

  it('top rows and ranks are those of sorting every row, for every sort field, both ways, filtered or not', () => {
    const filters = [MATCH_ALL, (parseFilter('tcp or net 10.0.0.0/24') as { filter: Filter }).filter];
    for (const filter of filters) {
      const kept = last.rates.filter((r) => matches(filter, r));
      const source = tableRows(tick, filter, 'flow');
      assert.equal(source.length, kept.length);
      for (const field of SORT_FIELDS) {
        for (const descending of [true, false]) {
          const key = sortKey(field, 10, false);
          const want = topN(kept, key, descending, 25).map((r) => r.key);
          assert.deepEqual(source.window(key, descending, 0, 25).map((r) => r.key), want, `${field} ${descending}`);
          assert.deepEqual(source.window(key, descending, 10, 5).map((r) => r.key), want.slice(10, 15));
          const sorted = sortRows(kept, key, descending);
          for (const at of [0, 17, kept.length - 1]) assert.equal(source.rankOf(key, descending, sorted[at]!.key), at);
        }
      }
      if (filter !== MATCH_ALL) {
        const out = last.rates.find((r) => !matches(filter, r))!;
        assert.equal(source.rankOf('bps', true, out.key), -1, 'a row the filter drops has no rank');
      }
    }
  });

  it('the flows a tick calls new are those the previous read lacked', () => {
    const prev = new Set(allRecords(steps.at(-2)!.history.last!.flows).map((r: FlowRecord) => r.key));
    for (const r of last.rates) assert.equal(r.isNew, !prev.has(r.key), r.key);
    assert.ok(last.rates.some((r) => r.isNew));
  });
});

/** A group's health column value as its row has it (NaN: none). */
function healthValue(r: AggRow, name: GroupHealth): number {
  const h = r.health;
  const v = name === 'rttLast' ? h?.rttUs?.last : name === 'rttMin' ? h?.rttUs?.min : name === 'rttMax' ? h?.rttUs?.max : h?.[name];
  return v ?? NaN;
}

/**
 * A group's health from its members' rows, folded here by hand rather than by combineHealth: the
 * RTT's last and max the highest, its min the lowest, the counts and the drop reasons added.
 */
function expectedHealth(members: readonly FlowRate[]): HealthRow | undefined {
  const hs = members.flatMap((r) => (r.health ? [r.health] : []));
  if (hs.length <= 1) return hs[0];
  const defined = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
  const total = (xs: (number | undefined)[]): number | undefined => {
    const d = defined(xs);
    return d.length === 0 ? undefined : d.reduce((a, b) => a + b);
  };
  const rtts = hs.flatMap((h) => (h.rttUs ? [h.rttUs] : []));
  const mins = defined(rtts.map((r) => r.min));
  const maxes = defined(rtts.map((r) => r.max));
  const reasons = new Map<string, number>();
  for (const h of hs) for (const [reason, n] of h.dropReasons) reasons.set(reason, (reasons.get(reason) ?? 0) + n);
  return {
    rttUs: rtts.length === 0 ? undefined : { last: Math.max(...rtts.map((r) => r.last)), min: mins.length ? Math.min(...mins) : undefined, max: maxes.length ? Math.max(...maxes) : undefined },
    retrans: total(hs.map((h) => h.retrans)),
    deltaRetrans: total(hs.map((h) => h.deltaRetrans)),
    drops: total(hs.map((h) => h.drops)),
    deltaDrops: total(hs.map((h) => h.deltaDrops)),
    dropReasons: reasons,
  };
}

/** The rows of each group of aggregate(rows, mode), by key (each row's key: its group of one). */
function membersByKey(rows: readonly FlowRate[], mode: (typeof AGGREGATE_MODES)[number]): Map<string, FlowRate[]> {
  const out = new Map<string, FlowRate[]>();
  for (const row of rows) {
    const key = aggregate([row], mode)[0]!.key;
    out.set(key, [...(out.get(key) ?? []), row]);
  }
  return out;
}

describe('groups on the columns against aggregate() over every row as an object', () => {
  const filters = [MATCH_ALL, (parseFilter('tcp or net 10.0.0.0/24 or ip6') as { filter: Filter }).filter];
  const labels = ['family', 'proto', 'src', 'dst', 'sport', 'dport', 'dir', 'ifname', 'owner', 'cgroup'] as const;
  for (const kind of ['kernel', 'records'] as const) {
    const steps = kernelSteps(1500, 12, 7, kind === 'records');
    const last = steps.at(-1)!;
    AGGREGATE_MODES.forEach((mode, m) => {
      it(`${kind} flows, ${mode}: a few groups shown first (their windows summed for their members alone) are the same`, () => {
        // A tick of its own per mode, whose window columns nothing has made yet.
        const table = steps[2 + m]!.table;
        const groups = new GroupTable(table, mode);
        const few = [3, 0, 1].filter((g) => g < groups.length);
        const shown = groups.rowsOf(few);
        const want = aggregate(table.all(), mode);
        assert.deepEqual(shown, few.map((g) => want[g]));
      });
    });
    const tick = { snapshot: last.history.last!, intervalS: last.intervalS, table: last.table, totals: last.totals, expired: [], rates: last.rates };
    for (const mode of AGGREGATE_MODES) {
      it(`${kind} flows, ${mode}: the same groups in the same order to the last bit, and the same top rows and ranks`, () => {
        for (const filter of filters) {
          const picked = filter === MATCH_ALL ? undefined : matchingRows(filter, last.table.flows);
          const rows = picked ? last.table.rows(Array.from(picked)) : last.table.all();
          const want = aggregate(rows, mode);
          // aggregate()'s health of each group against the members' folded by hand.
          const members = membersByKey(rows, mode);
          for (const r of want) assert.deepEqual(r.health, expectedHealth(members.get(r.key)!), `health of ${r.key}`);
          const groups = new GroupTable(last.table, mode, picked);
          // Columns and labels before any row is built, then the rows.
          for (const name of [...GROUP_SUMS, 'flows', 'firstSeenNs', 'lastSeenNs'] as const) {
            assert.deepEqual([...groups.column(name)], want.map((r) => r[name]), name);
          }
          for (const label of labels) {
            assert.deepEqual(want.map((_, g) => groups.label(label, g)), want.map((r) => r[label]), label);
          }
          for (const name of GROUP_HEALTH) {
            assert.deepEqual([...groups.healthColumn(name)!], want.map((r) => healthValue(r, name)), name);
          }
          assert.deepEqual(groups.all(), want);
          if (mode !== 'flow') assert.ok(want.some((r) => r.flows > 1) && want.some((r) => r.src === undefined || r.sport === undefined || r.dir === undefined), 'groups merge flows and clear labels');
          for (const [i, row] of want.entries()) assert.equal(groups.indexOfKey(row.key), i);
          assert.equal(groups.indexOfKey('no such group'), -1);
          if (mode === 'flow') continue; // tableRows gives the flow view its flows, tested above
          const source = tableRows(tick, filter, mode);
          assert.equal(source.length, want.length);
          for (const field of SORT_FIELDS) {
            for (const descending of [true, false]) {
              const key = sortKey(field, descending ? 10 : 40, !descending);
              const top = topN(want, key, descending, 25).map((r) => r.key);
              assert.deepEqual(source.window(key, descending, 0, 25).map((r) => r.key), top, `${field} ${descending}`);
              assert.deepEqual(source.window(key, descending, 10, 5).map((r) => r.key), top.slice(10, 15));
              const sorted = sortRows(want, key, descending);
              for (const at of new Set([0, Math.min(7, sorted.length - 1), sorted.length - 1])) assert.equal(source.rankOf(key, descending, sorted[at]!.key), at);
            }
          }
        }
      });
    }
  }
});

describe('the random ticks have what a group folds', () => {
  const steps = kernelSteps(1500, 12, 7);
  const rates = steps.at(-1)!.table.all();
  const [nginx, web, curl, dig] = OWNER_TABLE;

  it('health: groups of two or more flows with RTTs that differ, with retransmits, with drops of two reasons; a tick without retransmits, one without drops', () => {
    const members = [...membersByKey(rates, 'conversation').values()].filter((m) => m.length > 1);
    assert.ok(members.some((m) => new Set(m.flatMap((r) => (r.health?.rttUs ? [r.health.rttUs.last] : []))).size > 1), 'RTTs that differ');
    assert.ok(members.some((m) => m.filter((r) => r.health?.rttUs?.min !== undefined).length > 1), 'two mins');
    assert.ok(members.some((m) => m.filter((r) => (r.health?.deltaRetrans ?? 0) > 0).length > 1), 'two with retransmits');
    assert.ok(members.some((m) => m.filter((r) => (r.health?.dropReasons.size ?? 0) > 0).length > 1), 'two with drops');
    const proto = aggregate(rates, 'proto');
    assert.ok(proto.some((g) => (g.health?.dropReasons.size ?? 0) > 1), 'a group with drops of several reasons');
    assert.equal(steps[3]!.table.all()[0]!.health!.retrans, undefined);
    assert.equal(steps[4]!.table.all()[0]!.health!.drops, undefined);
  });

  it("owners: a process of two owners (mixed), a cgroup of two processes, the ownerless and the pathless in cgroup '-'", () => {
    const byProcess = new Map(aggregate(rates, 'process').map((g) => [g.key, g]));
    assert.deepEqual([byProcess.get('100 nginx')!.owner, byProcess.get('100 nginx')!.cgroup], [undefined, undefined]);
    assert.deepEqual([byProcess.get('200 curl')!.owner, byProcess.get('200 curl')!.cgroup], [curl, curl!.cgroup]);
    assert.deepEqual([byProcess.get('-')!.owner, byProcess.get('-')!.cgroup], [null, null]);
    const byCgroup = new Map(aggregate(rates, 'cgroup').map((g) => [g.key, g]));
    assert.deepEqual([byCgroup.get(nginx!.cgroup!)!.owner, byCgroup.get(nginx!.cgroup!)!.cgroup], [undefined, nginx!.cgroup]);
    assert.deepEqual([byCgroup.get(web!.cgroup!)!.owner, byCgroup.get(web!.cgroup!)!.flows > 0], [web, true]);
    assert.deepEqual([byCgroup.get('-')!.owner, byCgroup.get('-')!.cgroup], [undefined, null]);
    assert.ok(rates.some((r) => r.owner === dig) && rates.some((r) => r.owner === null));
  });
});

describe('grouped views make objects of the groups they show only', () => {
  /** Records a KernelFlowSet has built (its private cache). */
  const records = (flows: FlowSet): number => (flows as unknown as { built: unknown[] }).built.filter(Boolean).length;

  it("the dashboard's top talkers: the top source groups of aggregate(), records of their first flows only", () => {
    const last = kernelSteps(1500, 6, 11).at(-1)!;
    const tick = { snapshot: last.history.last!, intervalS: last.intervalS, table: last.table, totals: last.totals, expired: [], rates: [] };
    const s = { ...initialDashState({ meta: META, columns: 160, rows: 50, sort: 'bps', descending: true, filter: '' }), tick };
    const talkers = topTalkers(s, 5);
    const groups = new GroupTable(last.table, 'src').length;
    // A record per host shown, and per host whose key a tie of rates needed.
    assert.ok(groups > 20 && records(last.table.flows) <= 10, `${records(last.table.flows)} records for 5 talkers of ${groups} hosts`);
    const want = topN(aggregate(last.table.all(), 'src'), 'bps', true, 5);
    assert.deepEqual(talkers, want.map((g) => ({ host: g.key, bps: g.bps, flows: g.flows })));
  });

  it('showing a few conversations makes no whole column of the interval: deltas, pps, bps (read per member)', () => {
    const last = kernelSteps(1500, 6, 17).at(-1)!;
    const table = last.table as unknown as { cache: Map<string, unknown>; whole: unknown };
    const whole = table.whole;
    const groups = new GroupTable(last.table, 'conversation');
    const shown = groups.rowsOf([0, 1, 2, 3, 4, groups.length - 1]);
    assert.ok(!table.cache.has('pps') && !table.cache.has('bps'), 'no pps or bps column');
    assert.equal(table.whole, whole, 'no whole delta columns');
    // The same sums as aggregate() of the flows as objects.
    const want = new Map(aggregate(last.table.all(), 'conversation').map((g) => [g.key, g]));
    for (const g of shown) assert.deepEqual([g.deltaPackets, g.deltaBytes, g.pps, g.bps], ((w) => [w.deltaPackets, w.deltaBytes, w.pps, w.bps])(want.get(g.key)!), g.key);
  });

  for (const mode of ['flow', 'conversation', 'src'] as const) {
    it(`--json --top 50 --aggregate ${mode}: records of the rows printed only, the line of the object path`, () => {
      const last = kernelSteps(1500, 6, 13).at(-1)!;
      const tick = {
        snapshot: last.history.last!,
        intervalS: last.intervalS,
        table: last.table,
        totals: last.totals,
        expired: [],
        get rates(): never {
          throw new Error('--json asked for every flow as an object');
        },
      };
      const line = plainWriter({ output: 'json', filter: '', aggregate: mode, sort: 'bps', window: 2, reverse: false, top: 50 }, META)(tick);
      assert.ok(records(last.table.flows) <= 100, `${records(last.table.flows)} records for 50 rows`);
      const key = sortKey('bps', 2, true);
      const rows = mode === 'flow' ? topN(last.table.all(), key, true, 50) : topN(aggregate(last.table.all(), mode), key, true, 50);
      const view = { snapshot: tick.snapshot, intervalS: tick.intervalS, totals: tick.totals, expired: [], rows, aggregate: mode, window: 2, interfaces: META.interfaces, hooks: META.hooks } as const;
      assert.equal(line, jsonLine(view) + '\n');
    });
  }

  for (const [mode, sort] of [['process', 'rtt'], ['cgroup', 'retrans'], ['conversation', 'drops'], ['conversation', 'proc']] as const) {
    it(`a ${mode} view sorted by ${sort} (health and owners from the columns) builds no flow as an object, records of few flows`, () => {
      const last = kernelSteps(1500, 6, 14).at(-1)!;
      const tick = { snapshot: last.history.last!, intervalS: last.intervalS, table: last.table, totals: last.totals, expired: [], rates: [] };
      const rows = tableRows(tick, MATCH_ALL, mode).window(sort, true, 0, 40);
      assert.ok(rows.length > 3 && rows.every((r) => r.health !== undefined && 'owner' in r));
      assert.equal((last.table as unknown as { built: unknown[] }).built.filter(Boolean).length, 0, 'no FlowRate');
      assert.ok(records(last.table.flows) <= 80, `${records(last.table.flows)} records of ${last.table.length} flows`);
      assert.deepEqual(rows, topN(aggregate(last.table.all(), mode), sort, true, 40));
    });
  }

  it('a conversation view of 40 rows builds the records of its first flows and of the ties it met, not of every flow', () => {
    const last = kernelSteps(1500, 6, 12).at(-1)!;
    const tick = { snapshot: last.history.last!, intervalS: last.intervalS, table: last.table, totals: last.totals, expired: [], rates: [] };
    const rows = tableRows(tick, MATCH_ALL, 'conversation').window('bps2', true, 0, 40);
    assert.equal(rows.length, 40);
    assert.ok(records(last.table.flows) <= 80, `${records(last.table.flows)} records of ${last.table.length} flows`);
  });
});
