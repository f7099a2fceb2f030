/**
 * Three lines: interfaces and hooks with the elapsed time; total rates in and out over the chosen
 * window, the peak, bytes since start and a sparkline of the last minute; flow count and the
 * map's fill and losses.
 */
import { Box } from 'ink';
import type { Window } from '../model/types.js';
import { windowRate } from '../model/windows.js';
import { Line } from './Line.js';
import type { HookView } from '../model/types.js';
import type { Data, Meta } from './state.js';
import { exportText, formatBytes, formatElapsed, formatPps, formatRate, segmentsWidth, sparkline, type Segment, type Units } from '../model/text.js';
import type { Theme } from './theme.js';

export interface HeaderProps {
  readonly meta: Meta;
  readonly data: Data;
  readonly units: Units;
  readonly window: Window;
  readonly width: number;
  readonly theme: Theme;
}

/** 'eth0: xdp (native), tc egress (tcx)'; TC hooks of one mode in both directions merge into 'tc ingress+egress'. */
export function hooksText(interfaces: readonly string[], hooks: readonly HookView[]): string {
  return interfaces
    .map((ifname) => {
      const mine = hooks.filter((h) => h.ifname === ifname);
      const parts = mine.filter((h) => h.kind === 'xdp').map((h) => `xdp (${h.mode})`);
      const tc = mine.filter((h) => h.kind === 'tc');
      for (const mode of new Set(tc.map((h) => h.mode))) {
        parts.push(`tc ${tc.filter((h) => h.mode === mode).map((h) => h.dir).join('+')} (${mode})`);
      }
      return `${ifname}: ${parts.join(', ') || 'no hooks'}`;
    })
    .join('  ');
}

/** A part of a header line: its segments, and whether it may go when the line is too narrow. */
export interface Part {
  readonly segments: readonly Segment[];
  /** Dropped, lowest first, while the line does not fit; absent: always kept. */
  readonly drop?: number;
  /** Dropped before any ranked part while the line does not fit (a zero counter says little). */
  readonly idle?: boolean;
}

/**
 * The parts joined by the widest gap (3 or 2 spaces) with which they fit in `width`; when neither
 * does, idle parts go first, then the others by rank. The parts that are always kept get single
 * spaces, and an ellipsis, only when even they are too wide.
 */
export function fitParts(parts: readonly Part[], width: number): Segment[] {
  const join = (kept: readonly Part[], gap: string): Segment[] => kept.flatMap((p, i) => (i === 0 ? [...p.segments] : [{ text: gap }, ...p.segments]));
  const order = parts
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.idle || p.drop !== undefined)
    .sort((a, b) => Number(b.p.idle ?? false) - Number(a.p.idle ?? false) || (a.p.drop ?? Infinity) - (b.p.drop ?? Infinity) || b.i - a.i);
  let kept = [...parts];
  for (let k = 0; ; k++) {
    for (const gap of ['   ', '  ']) {
      const line = join(kept, gap);
      if (segmentsWidth(line) <= width) return line;
    }
    const next = order[k];
    // A single space only when nothing is left to drop.
    if (!next) return join(kept, ' ');
    kept = kept.filter((p) => p !== next.p);
  }
}

/** left, then right flush with the end of the line when both fit. */
function spreadSegments(left: readonly Segment[], right: readonly Segment[], width: number): Segment[] {
  const gap = width - segmentsWidth(left) - segmentsWidth(right);
  return gap > 0 ? [...left, { text: ' '.repeat(gap) }, ...right] : [...left];
}

/** The sparkline after the rates: at least this wide, three spaces after them. */
const MIN_SPARK = 1;
const SPARK_GAP = 3;

export function Header({ meta, data, units, window, width, theme }: HeaderProps) {
  const tick = data.tick;
  const title: Segment[] = [{ text: 'tc-top', bold: true, color: theme.accent }, { text: `  ${hooksText(meta.interfaces, meta.hooks)}` }];
  const elapsed: Segment[] =
    tick && data.startNs !== undefined ? [{ text: `up ${formatElapsed((tick.snapshot.monoNs - data.startNs) / 1e9)}` }] : [];
  if (!tick) {
    return (
      <Box flexDirection="column">
        <Line segments={title} width={width} />
        <Line segments={[]} width={width} />
        <Line segments={[]} width={width} />
      </Box>
    );
  }
  const t = tick.totals;
  const snap = tick.snapshot;
  const rateIn = windowRate(t.windowsIn, window);
  const rateOut = windowRate(t.windowsOut, window);
  // Each line sheds its gaps, then what says least, so that it fits without an ellipsis at 80 columns.
  const rates = fitParts(
    [
      { segments: [{ text: 'in ' }, { text: formatRate(rateIn.bps, units), bold: true }, { text: ` ${formatPps(rateIn.pps)} pkt/s` }] },
      { segments: [{ text: 'out ' }, { text: formatRate(rateOut.bps, units), bold: true }, { text: ` ${formatPps(rateOut.pps)} pkt/s` }] },
      { segments: [{ text: `peak ${formatRate(t.peakBps, units)}` }], drop: 2 },
      { segments: [{ text: `total ${formatBytes(t.bytesIn + t.bytesOut)}` }], drop: 1 },
    ],
    width - SPARK_GAP - MIN_SPARK,
  );
  const spark = sparkline(
    data.totalRate.map((x) => x.value),
    width - segmentsWidth(rates) - SPARK_GAP,
  );
  const losses = (label: string, n: number): Part => ({ segments: [{ text: `${label} ${n}`, color: n > 0 ? theme.warn : undefined }], idle: n === 0 });
  const fill = snap.maxFlows > 0 ? ` (${((100 * snap.flows.length) / snap.maxFlows).toFixed(1)}%)` : '';
  const flows = fitParts(
    [
      { segments: [{ text: 'flows ' }, { text: String(t.activeFlows), bold: true }] },
      { segments: [{ text: `map ${meta.mapKind} ${snap.flows.length}/${snap.maxFlows}${fill}` }] },
      losses('evicted', t.evictions),
      losses('failed', t.updateFailed),
      losses('non-ip', t.nonIp),
      losses('malformed', t.malformed),
      // An export that fails is never dropped from the line; one that works, before the zero counters.
      ...(data.exports ?? []).map((e): Part => ({
        segments: [{ text: exportText(e), color: e.sendErrors > 0 ? theme.warn : undefined }],
        ...(e.sendErrors > 0 ? {} : { drop: 0 }),
      })),
    ],
    width,
  );
  return (
    <Box flexDirection="column">
      <Line segments={spreadSegments(title, elapsed, width)} width={width} />
      <Line segments={[...rates, { text: ' '.repeat(SPARK_GAP) }, { text: spark, color: theme.accent }]} width={width} />
      <Line segments={flows} width={width} />
    </Box>
  );
}
