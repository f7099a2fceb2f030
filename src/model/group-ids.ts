/**
 * Which group each row of a tick is in, for GroupTable: a number per group, in the order of the
 * groups' first members among the rows grouped.
 *
 * Grouping a tick from nothing hashes every flow's group key and probes a table as large as the
 * flows: at 100k flows a conversation view spent most of its tick there, waiting on memory. But a
 * flow's group (by address, port, conversation) is a function of its key, and a flow keeps its key
 * and its slot (slots.ts) for as long as it lives. So a lineage of ticks (RateTable.identity) keeps,
 * per slot, the group id its flow was given and the serial the flow was born in; a later tick reads
 * the ids of the flows it still has and hashes only the new ones: ids made once per flow, not once
 * per flow per tick.
 *
 * Why an id is right in a later tick: ids are only ever read by a tick later in the lineage than
 * every tick that wrote them (an older tick, such as a paused view's, groups from nothing). A flow
 * new to a tick is compared with one member of each id its hash matches among the tick's flows, and
 * takes that id or a new one. Two flows of one group present in a tick then have one id: the later
 * one's id was given in a tick that also held the earlier one (the flows' lives are intervals), by
 * comparing with it. Ids are never given to a second group; when the ids given outgrow the flows
 * (about twice), the memory starts again: every flow is new to the next tick.
 *
 * Modes whose group is not a function of the key (process, cgroup: an owner can be learnt later)
 * and tables without a lineage (records, tests) group from nothing.
 */
import type { AggregateMode } from './aggregate.js';
import type { RateTable } from './rate-table.js';

/** How a mode tells groups apart: rows in one group iff same(); equal hashes for rows in one group. */
export interface Grouping {
  hash(i: number): number;
  same(i: number, j: number): boolean;
}

/** The rows grouped: per group its first row, per row grouped (in their order) its group. */
export interface Assigned {
  readonly length: number;
  readonly firstRow: Int32Array;
  readonly groupOf: Int32Array;
}

/** Who a table's row is across the ticks of one history (windows.ts sets it). */
export interface RowIdentity {
  /** One object per history: ticks of other histories share nothing. */
  readonly lineage: object;
  /** The tick's place in its history, from 1. */
  readonly step: number;
  /** Per row its slot, and per slot the serial its flow was born in (slots.ts). */
  readonly slotOfRow: Int32Array;
  readonly born: Float64Array;
}

/** murmur3's finaliser: every input bit reaches the low bits, which pick the table position. */
function avalanche(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

function tableSize(entries: number): number {
  let size = 16;
  while (size < 2 * entries) size *= 2;
  return size;
}

/** Groups from nothing: each row hashed, and probed for in a table of the groups so far. */
function fromNothing(g: Grouping, rows: ArrayLike<number>): Assigned {
  const n = rows.length;
  // Open addressing, linear probing, at most half full; group + 1 per position, 0 for empty.
  const positions = new Int32Array(tableSize(n));
  const mask = positions.length - 1;
  const first = new Int32Array(n);
  const hashes = new Int32Array(n);
  const groupOf = new Int32Array(n);
  let count = 0;
  for (let k = 0; k < n; k++) {
    const i = rows[k] as number;
    const h = avalanche(g.hash(i));
    for (let at = h & mask; ; at = (at + 1) & mask) {
      const group = (positions[at] as number) - 1;
      if (group < 0) {
        positions[at] = count + 1;
        first[count] = i;
        hashes[count] = h;
        groupOf[k] = count++;
        break;
      }
      if (hashes[group] === h && g.same(i, first[group] as number)) {
        groupOf[k] = group;
        break;
      }
    }
  }
  return { length: count, firstRow: first.slice(0, count), groupOf };
}

function grown<T extends Int32Array | Float64Array>(a: T, size: number, fill: number): T {
  if (a.length >= size) return a;
  const out = new (a.constructor as new (n: number) => T)(Math.max(size, 2 * a.length));
  out.set(a);
  out.fill(fill, a.length);
  return out;
}

/** Ids given, as a multiple of the rows, past which a lineage's ids start again. */
const IDS_PER_ROW = 2;
const IDS_SLACK = 1024;

/** What one lineage keeps for one mode. */
class Memo {
  /** The latest step that wrote ids (a step of the lineage is one table), and the ids of its rows. */
  step = 0;
  idOfRow = new Int32Array(0);
  /** Per slot: the id its flow was given, and the serial the flow was born in (NaN: none). */
  idOfSlot = new Int32Array(0);
  bornOfSlot = new Float64Array(0);
  /**
   * Per id: its avalanched hash; and a number valid where `seenOfId` holds the stamp of the pass
   * that wrote it: the id's first row in the table an assign() pass reads, its group in a groups()
   * pass (the passes never overlap, so they share the arrays).
   */
  hashOfId = new Int32Array(0);
  rowOfId = new Int32Array(0);
  seenOfId = new Int32Array(0);
  /** Scratch: the ids met in a step, and the first rows of the groups of a pass. */
  private live = new Int32Array(0);
  private first = new Int32Array(0);
  /** The group keys' text made so far. */
  readonly keys = new Keys();
  /** Ids given since the memory started. */
  next = 0;
  private stamp = 0;
  /** How often the ids started again (for tests). */
  restarts = 0;

  /** Every row's id in `table`, a later step of the lineage than any before. */
  assign(table: RateTable, id: RowIdentity, g: Grouping): Int32Array {
    const n = table.length;
    if (this.next > IDS_PER_ROW * n + IDS_SLACK) {
      this.next = 0;
      this.bornOfSlot.fill(NaN);
      this.restarts++;
    }
    this.idOfSlot = grown(this.idOfSlot, id.born.length, 0);
    this.bornOfSlot = grown(this.bornOfSlot, id.born.length, NaN);
    const stamp = this.nextStamp();
    const { slotOfRow, born } = id;
    const { idOfSlot, bornOfSlot } = this;
    // The rows' ids (the last step's array, if as long: its step is past), the ids met before with
    // each one's first row here, and the rows new to the lineage. Reused: a fresh array of a
    // hundred thousand rows is a hundred page faults (returnLargeFreesToSystem).
    const ids = this.idOfRow.length === n ? this.idOfRow : new Int32Array(n);
    this.live = grown(this.live, n, 0);
    const live = this.live;
    let lives = 0;
    const fresh: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = slotOfRow[i] as number;
      if (bornOfSlot[s] !== born[s]) {
        fresh.push(i);
        continue;
      }
      const x = idOfSlot[s] as number;
      ids[i] = x;
      if (this.seenOfId[x] !== stamp) {
        this.seenOfId[x] = stamp;
        this.rowOfId[x] = i;
        live[lives++] = x;
      }
    }
    if (fresh.length > 0) this.assignFresh(fresh, ids, live.subarray(0, lives), id, g, stamp);
    this.step = id.step;
    this.idOfRow = ids;
    return ids;
  }

  /**
   * Ids for the rows new to the lineage: the id of a flow of this table with an equal hash that
   * same() matches, else a new one. The ids met compete only where their hash is a new row's.
   */
  private assignFresh(fresh: readonly number[], ids: Int32Array, live: Int32Array, id: RowIdentity, g: Grouping, stamp: number): void {
    const m = fresh.length;
    const hashes = new Int32Array(m);
    // The new rows' hashes, as a set: open addressing over hash values, with a mark per position.
    const wanted = new Int32Array(tableSize(m));
    const used = new Uint8Array(wanted.length);
    const wmask = wanted.length - 1;
    for (let k = 0; k < m; k++) {
      const h = avalanche(g.hash(fresh[k] as number));
      hashes[k] = h;
      let at = h & wmask;
      while (used[at] && wanted[at] !== h) at = (at + 1) & wmask;
      used[at] = 1;
      wanted[at] = h;
    }
    const candidates: number[] = [];
    for (let k = 0; k < live.length; k++) {
      const x = live[k] as number;
      const h = this.hashOfId[x] as number;
      let at = h & wmask;
      while (used[at] && wanted[at] !== h) at = (at + 1) & wmask;
      if (used[at]) candidates.push(x);
    }
    // The candidate ids and the new ones, by hash: id + 1 per position, 0 for empty.
    const positions = new Int32Array(tableSize(candidates.length + m));
    const mask = positions.length - 1;
    const put = (x: number): void => {
      let at = (this.hashOfId[x] as number) & mask;
      while (positions[at] !== 0) at = (at + 1) & mask;
      positions[at] = x + 1;
    };
    for (const x of candidates) put(x);
    const need = this.next + m;
    this.hashOfId = grown(this.hashOfId, need, 0);
    this.rowOfId = grown(this.rowOfId, need, 0);
    this.seenOfId = grown(this.seenOfId, need, 0);
    for (let k = 0; k < m; k++) {
      const i = fresh[k] as number;
      const h = hashes[k] as number;
      let x = -1;
      for (let at = h & mask; ; at = (at + 1) & mask) {
        const y = (positions[at] as number) - 1;
        if (y < 0) break;
        if (this.hashOfId[y] === h && g.same(i, this.rowOfId[y] as number)) {
          x = y;
          break;
        }
      }
      if (x < 0) {
        x = this.next++;
        this.hashOfId[x] = h;
        this.rowOfId[x] = i;
        this.seenOfId[x] = stamp;
        put(x);
      }
      ids[i] = x;
      const s = id.slotOfRow[i] as number;
      this.idOfSlot[s] = x;
      this.bornOfSlot[s] = id.born[s] as number;
    }
  }

  /** A number no mark holds yet (the marks cleared before the stamps would leave an Int32). */
  private nextStamp(): number {
    if (this.stamp >= 0x3fffffff) {
      this.stamp = 0;
      this.seenOfId.fill(0);
    }
    return ++this.stamp;
  }

  /** The groups of `rows` of the table whose ids are `ids`, numbered in the order of their first rows. */
  groups(ids: Int32Array, rows: ArrayLike<number>): Assigned {
    this.rowOfId = grown(this.rowOfId, this.next, 0);
    this.seenOfId = grown(this.seenOfId, this.next, 0);
    const stamp = this.nextStamp();
    const { rowOfId: dense, seenOfId: denseSeen } = this;
    const n = rows.length;
    this.first = grown(this.first, n, 0);
    const first = this.first;
    const groupOf = new Int32Array(n);
    let count = 0;
    for (let k = 0; k < n; k++) {
      const i = rows[k] as number;
      const x = ids[i] as number;
      if (denseSeen[x] !== stamp) {
        denseSeen[x] = stamp;
        dense[x] = count;
        first[count++] = i;
      }
      groupOf[k] = dense[x] as number;
    }
    return { length: count, firstRow: first.slice(0, count), groupOf };
  }
}

/** A group key's text per row, kept across the ticks of a lineage (GroupTable.keyOf). */
export interface KeyCache {
  get(i: number): string | undefined;
  set(i: number, key: string): void;
}

/**
 * Per slot, the text of its flow's group key, and the serial the flow was born in: in the keyed
 * modes the text is a function of the flow's key, so it holds for the flow in any tick of the
 * lineage, earlier or later (unlike an id, no order of steps is needed).
 */
class Keys {
  private text: (string | undefined)[] = [];
  private born = new Float64Array(0);

  cache(id: RowIdentity): KeyCache {
    return {
      get: (i) => {
        const s = id.slotOfRow[i] as number;
        return this.born[s] === id.born[s] ? this.text[s] : undefined;
      },
      set: (i, key) => {
        const s = id.slotOfRow[i] as number;
        this.born = grown(this.born, s + 1, NaN);
        this.born[s] = id.born[s] as number;
        this.text[s] = key;
      },
    };
  }
}

/** Per lineage (RowIdentity.lineage), per mode, its memo. */
const memos = new WeakMap<object, Map<AggregateMode, Memo>>();

/** The modes whose group is a function of the flow's key alone. */
function keyed(mode: AggregateMode): boolean {
  return mode !== 'process' && mode !== 'cgroup';
}

function memoOf(table: RateTable, mode: AggregateMode): Memo | undefined {
  const id = table.identity;
  if (!id || !keyed(mode)) return undefined;
  let byMode = memos.get(id.lineage);
  if (!byMode) {
    byMode = new Map();
    memos.set(id.lineage, byMode);
  }
  let memo = byMode.get(mode);
  if (!memo) {
    memo = new Memo();
    byMode.set(mode, memo);
  }
  return memo;
}

/**
 * The groups of `rows` (row numbers of the table, in order) under a mode: from the lineage's ids
 * when the table is its latest step so far (or that very table again), else from nothing.
 */
export function assignGroups(table: RateTable, mode: AggregateMode, g: Grouping, rows: ArrayLike<number>): Assigned {
  const memo = memoOf(table, mode);
  const id = table.identity;
  if (!memo || !id) return fromNothing(g, rows);
  if (id.step === memo.step) return memo.groups(memo.idOfRow, rows);
  if (id.step <= memo.step) return fromNothing(g, rows);
  return memo.groups(memo.assign(table, id, g), rows);
}

/** The lineage's group keys of a mode, made once per flow rather than once per tick (undefined where not keyed). */
export function keyCacheOf(table: RateTable, mode: AggregateMode): KeyCache | undefined {
  const id = table.identity;
  return id && memoOf(table, mode)?.keys.cache(id);
}

/** What a lineage's memo for a mode did so far (tests): ids given since its start, and its restarts. */
export function memoStats(table: RateTable, mode: AggregateMode): { readonly step: number; readonly ids: number; readonly restarts: number } | undefined {
  const memo = table.identity && memos.get(table.identity.lineage)?.get(mode);
  return memo && { step: memo.step, ids: memo.next, restarts: memo.restarts };
}
