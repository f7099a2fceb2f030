/**
 * The tick shared by every view: read a snapshot, expire idle flows from the kernel map, and hand
 * the model's rates (per interval and over the windows) and totals on. The model decides what is
 * idle; the sampler does the deleting.
 */
import { RecordFlowSet, withoutRows } from '../model/flow-set.js';
import { expiredRows } from '../model/rates.js';
import { RateTable } from '../model/rate-table.js';
import type { Totals } from '../model/rates.js';
import type { FlowRecord, Snapshot, Tick } from '../model/types.js';
import { advance, NO_HISTORY, type RateHistory } from '../model/windows.js';
import type { Collector } from '../collectors/collector.js';

export type { Tick };

export class Sampler {
  private history: RateHistory = NO_HISTORY;

  constructor(
    private readonly collector: Collector,
    private readonly idleTimeoutNs: number,
  ) {}

  /** Take the baseline right after attaching, so the first tick's rates cover a full interval. */
  prime(): LiveTick {
    const snapshot = this.collector.read();
    const { history, intervalS, table, totals } = advance(NO_HISTORY, snapshot);
    this.history = history;
    return tickOf(snapshot, intervalS, table, totals, [], () => this.collector.release?.(snapshot));
  }

  /**
   * One tick. `reuse`: no earlier tick is read any more (none is held), so the model may write its
   * per-slot arrays in place (AdvanceOptions.reuse).
   */
  tick(reuse = false): LiveTick {
    const read = this.collector.read();
    let snapshot = read;
    const rows = expiredRows(snapshot, this.idleTimeoutNs);
    const expired: FlowRecord[] = rows.map((i) => snapshot.flows.record(i));
    if (rows.length > 0) {
      const deleted = this.collector.deleteFlows(expired.map((f) => f.key));
      snapshot = { ...snapshot, flows: withoutRows(snapshot.flows, rows), flowsDeleted: snapshot.flowsDeleted + deleted };
    }
    const { history, intervalS, table, totals } = advance(this.history, snapshot, { reuse });
    this.history = history;
    // Retired once the next tick is out: by then the history's last snapshot is the next one's.
    return tickOf(snapshot, intervalS, table, totals, expired, () => this.collector.release?.(read));
  }
}

/**
 * A tick as the run loop hands it out, until it is retired: then its flows and their columns are let
 * go (a view that still reads it says so first: TickConsumer.holds), so that a stale reference
 * (React keeps the previous render's props) does not keep a whole tick of columns alive. A retired
 * tick reads as one without flows: its totals and times stay, its table and flow set are empty.
 */
export interface LiveTick extends Tick {
  retire(): void;
  readonly retired: boolean;
}

const NO_FLOWS = new RecordFlowSet([]);

function tickOf(snapshot: Snapshot, intervalS: number, table: RateTable, totals: Totals, expired: readonly FlowRecord[], released: () => void): LiveTick {
  const tick = {
    snapshot,
    intervalS,
    table,
    totals,
    expired,
    retired: false,
    get rates() {
      return tick.table.all();
    },
    retire() {
      if (tick.retired) return;
      const { health: _health, owners: _owners, ...rest } = tick.snapshot;
      tick.snapshot = { ...rest, flows: NO_FLOWS };
      tick.table = new RateTable(NO_FLOWS, 0);
      tick.retired = true;
      released();
    },
  };
  return tick;
}
