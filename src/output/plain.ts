/**
 * The non-interactive views: one JSON object per update (--json) and plain text tables like
 * `top -b` (--batch). Pure functions of a tick; the caller writes the result.
 */
import type { Options } from '../app/options.js';
import { MATCH_ALL, parseFilter, type Filter } from '../model/filter.js';
import { tableRows } from '../model/rows.js';
import { sortKey } from '../model/sort.js';
import prettyBytes from 'pretty-bytes';
import { formatRate, textWidth } from '../model/text.js';
import type { AggregateMode, AggRow } from '../model/aggregate.js';
import { BATCH_FIELDS, flowJsonOf, groupJsonOf, round, windowsJson } from '../model/fields.js';
import type { Totals } from '../model/rates.js';
import type { ExportStatus, FlowRate, FlowRecord, HookView, Meta, Snapshot, Tick, Window } from '../model/types.js';
import { windowRate } from '../model/windows.js';

export interface TickView {
  readonly snapshot: Snapshot;
  readonly intervalS: number;
  /** The rows to show, already filtered, grouped by `aggregate`, sorted and limited. */
  readonly rows: readonly (FlowRate | AggRow)[];
  readonly aggregate: AggregateMode;
  /** The window of the batch table's RATE and PPS. */
  readonly window: Window;
  readonly totals: Totals;
  readonly expired: readonly FlowRecord[];
  readonly interfaces: readonly string[];
  readonly hooks: readonly HookView[];
  /** The flow exporters' counts (--ipfix), as of this tick. */
  readonly exports?: readonly ExportStatus[];
}

/** One JSON line (without the newline). Schema documented in the README. */
export function jsonLine(v: TickView): string {
  const t = v.totals;
  const c = v.snapshot.counters;
  const rows = v.rows.map((r) => ('flows' in r ? groupJsonOf(r, v.snapshot) : flowJsonOf(r, v.snapshot, r)));
  return JSON.stringify({
    time: new Date(v.snapshot.wallMs).toISOString(),
    interval: round(v.intervalS),
    interfaces: v.interfaces,
    hooks: v.hooks.map((h) => ({ ifname: h.ifname, kind: h.kind, dir: h.dir, mode: h.mode })),
    totals: {
      packets_in: t.packetsIn,
      packets_out: t.packetsOut,
      bytes_in: t.bytesIn,
      bytes_out: t.bytesOut,
      pps_in: round(t.ppsIn),
      pps_out: round(t.ppsOut),
      bps_in: round(t.bpsIn),
      bps_out: round(t.bpsOut),
      windows: windowsJson((w) => {
        const [rin, rout] = [windowRate(t.windowsIn, w), windowRate(t.windowsOut, w)];
        return { pps_in: round(rin.pps), pps_out: round(rout.pps), bps_in: round(rin.bps), bps_out: round(rout.bps) };
      }),
      peak: { pps: round(t.peakPps), bps: round(t.peakBps) },
      flows: t.activeFlows,
    },
    counters: {
      non_ip: c.nonIp,
      non_ip_bytes: c.nonIpBytes,
      malformed: c.malformed,
      malformed_bytes: c.malformedBytes,
      update_failed: c.updateFailed,
      flows_created: c.flowsCreated,
      flows_expired: v.snapshot.flowsDeleted,
      evictions: t.evictions,
      max_flows: v.snapshot.maxFlows,
    },
    ...(v.aggregate === 'flow' ? { flows: rows } : { aggregate: v.aggregate, groups: rows }),
    expired: v.expired.map((f) => flowJsonOf(f, v.snapshot)),
    ...Object.fromEntries((v.exports ?? []).map((e) => [e.kind, exportJson(e)])),
  });
}

/** An exporter's member of a JSON line: where to, and what got there or did not. */
export function exportJson(e: ExportStatus): Record<string, unknown> {
  return { collector: e.collector, records: e.records, messages: e.messages, send_errors: e.sendErrors, last_error: e.lastError ?? null };
}

function bits(bps: number): string {
  return formatRate(bps, 'bits');
}

function pad(text: string, width: number, right: boolean): string {
  const gap = Math.max(0, width - textWidth(text));
  return right ? ' '.repeat(gap) + text : text + ' '.repeat(gap);
}

/** A `top -b` style block: a summary, a blank line, then the flow (or group) table; rates over the window. */
export function batchText(v: TickView): string {
  const t = v.totals;
  const c = v.snapshot.counters;
  const rin = windowRate(t.windowsIn, v.window);
  const rout = windowRate(t.windowsOut, v.window);
  const hooks = v.hooks.map((h) => `${h.ifname}:${h.kind}${h.kind === 'tc' ? `-${h.dir}` : ''}(${h.mode})`).join(' ');
  const lines = [
    `tc-top - ${new Date(v.snapshot.wallMs).toISOString()}  interval ${v.intervalS.toFixed(2)}s  window ${v.window}s  hooks ${hooks}`,
    `in:  ${bits(rin.bps)}  ${rin.pps.toFixed(1)} pkt/s  total ${prettyBytes(t.bytesIn)} ${t.packetsIn} pkts`,
    `out: ${bits(rout.bps)}  ${rout.pps.toFixed(1)} pkt/s  total ${prettyBytes(t.bytesOut)} ${t.packetsOut} pkts  peak ${bits(t.peakBps)}`,
    `flows: ${t.activeFlows}/${v.snapshot.maxFlows}  expired ${v.snapshot.flowsDeleted}  evicted ${t.evictions}  ` +
      `update-failed ${c.updateFailed}  non-ip ${c.nonIp}  malformed ${c.malformed}`,
    ...(v.exports ?? []).map((e) => `${e.kind}: to ${e.collector}  records ${e.records}  messages ${e.messages}  send-errors ${e.sendErrors}${e.lastError ? ` (${e.lastError})` : ''}`),
    '',
  ];
  const only = { health: v.snapshot.health !== undefined, owners: v.snapshot.owners !== undefined };
  const columns = BATCH_FIELDS.filter((f) => (v.aggregate !== 'flow' || !f.batch!.groups) && (!f.batch!.only || only[f.batch!.only]));
  const cells = v.rows.map((r) => columns.map((f) => f.batch!.cell(r, v.window)));
  const widths = columns.map((f, i) => Math.max(textWidth(f.title), ...cells.map((row) => textWidth(row[i]!))));
  const line = (row: readonly string[]) => row.map((text, i) => pad(text, widths[i]!, columns[i]!.batch!.right)).join('  ').trimEnd();
  lines.push(line(columns.map((c) => c.title)));
  for (const row of cells) lines.push(line(row));
  return lines.join('\n') + '\n';
}

export type PlainOptions = Pick<Options, 'output' | 'filter' | 'aggregate' | 'sort' | 'window' | 'reverse' | 'top'>;

/** The rows of a tick as --json and --batch print them: filtered, grouped, sorted, at most --top. */
export function selectRows(tick: Tick, o: PlainOptions, filter: Filter): (FlowRate | AggRow)[] {
  const rows = tableRows(tick, filter, o.aggregate);
  return [...rows.window(sortKey(o.sort, o.window, true), !o.reverse, 0, o.top ?? rows.length)];
}

/** Turns each tick into the text --json (a line) or --batch (a block) prints for it. */
export function plainWriter(o: PlainOptions, meta: Meta, exports: readonly (() => ExportStatus)[] = []): (tick: Tick) => string {
  // Parsed once: the command line already rejected a filter that does not parse.
  const parsed = parseFilter(o.filter);
  const filter = parsed.ok ? parsed.filter : MATCH_ALL;
  return (tick) => {
    // Fields named, not spread: spreading a tick would build every flow of it as an object (tick.rates).
    const view: TickView = {
      snapshot: tick.snapshot,
      intervalS: tick.intervalS,
      totals: tick.totals,
      expired: tick.expired,
      rows: selectRows(tick, o, filter),
      aggregate: o.aggregate,
      window: o.window,
      interfaces: meta.interfaces,
      hooks: meta.hooks,
      ...(exports.length > 0 ? { exports: exports.map((status) => status()) } : {}),
    };
    return (o.output === 'json' ? jsonLine(view) : batchText(view)) + '\n';
  };
}
