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

/** left, then right flush with the end of the line when both fit. */
function spreadSegments(left: readonly Segment[], right: readonly Segment[], width: number): Segment[] {
  const gap = width - segmentsWidth(left) - segmentsWidth(right);
  return gap > 0 ? [...left, { text: ' '.repeat(gap) }, ...right] : [...left];
}

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
  const rates: Segment[] = [
    { text: 'in ' },
    { text: formatRate(rateIn.bps, units), bold: true },
    { text: ` ${formatPps(rateIn.pps)} pkt/s   out ` },
    { text: formatRate(rateOut.bps, units), bold: true },
    { text: ` ${formatPps(rateOut.pps)} pkt/s   peak ${formatRate(t.peakBps, units)}   total ${formatBytes(t.bytesIn + t.bytesOut)}   ` },
  ];
  const spark = sparkline(
    data.totalRate.map((x) => x.value),
    width - segmentsWidth(rates),
  );
  const losses = (label: string, n: number): Segment => ({ text: `${label} ${n}`, color: n > 0 ? theme.warn : undefined });
  const fill = snap.maxFlows > 0 ? ` (${((100 * snap.flows.length) / snap.maxFlows).toFixed(1)}%)` : '';
  return (
    <Box flexDirection="column">
      <Line segments={spreadSegments(title, elapsed, width)} width={width} />
      <Line segments={[...rates, { text: spark, color: theme.accent }]} width={width} />
      <Line
        segments={[
          { text: 'flows ' },
          { text: String(t.activeFlows), bold: true },
          { text: `   map ${meta.mapKind} ${snap.flows.length}/${snap.maxFlows}${fill}   ` },
          losses('evicted', t.evictions),
          { text: '   ' },
          losses('failed', t.updateFailed),
          { text: `   non-ip ${t.nonIp}   malformed ${t.malformed}` },
          ...(data.exports ?? []).map((e): Segment => ({ text: `   ${exportText(e)}`, color: e.sendErrors > 0 ? theme.warn : undefined })),
        ]}
        width={width}
      />
    </Box>
  );
}
