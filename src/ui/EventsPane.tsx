/** Flows created and expired (idle timeout), newest first, like a conntrack event log. */
import { Box } from 'ink';
import { hasPorts, protoName } from '../model/format.js';
import { cellText, endpoint, type CellContext } from './columns.js';
import { Line } from './Line.js';
import type { FlowEvent } from './state.js';
import { formatClock, rule, type Segment } from '../model/text.js';
import type { Theme } from './theme.js';

export interface EventsPaneProps {
  /** Oldest first, as the state keeps them. */
  readonly events: readonly FlowEvent[];
  readonly ctx: CellContext;
  readonly width: number;
  readonly height: number;
  readonly theme: Theme;
}

function eventSegments({ kind, wallMs, flow }: FlowEvent, ctx: CellContext, theme: Theme): Segment[] {
  const ports = hasPorts(flow.proto);
  const src = cellText(endpoint(flow.src, ports ? flow.sport : undefined, ctx));
  const dst = cellText(endpoint(flow.dst, ports ? flow.dport : undefined, ctx));
  return [
    { text: `${formatClock(wallMs)}  ` },
    kind === 'new' ? { text: '+ new    ', color: theme.fresh, bold: true } : { text: '- expired', dim: true },
    { text: `  ${protoName(flow.proto)} ${src} → ${dst}  ${flow.dir} on ${flow.ifname}`, dim: kind === 'expired' },
  ];
}

export function EventsPane({ events, ctx, width, height, theme }: EventsPaneProps) {
  const created = events.filter((e) => e.kind === 'new').length;
  const title = `events: ${created} created, ${events.length - created} expired, newest first (e or Esc closes)`;
  const shown = events.slice(-(height - 1)).reverse();
  return (
    <Box flexDirection="column" height={height}>
      <Line segments={[{ text: rule(title, width), color: theme.accent }]} width={width} />
      {shown.length === 0 ? (
        <Line segments={[{ text: 'no flow created or expired yet', dim: true }]} width={width} />
      ) : (
        shown.map((event, i) => <Line key={i} segments={eventSegments(event, ctx, theme)} width={width} />)
      )}
    </Box>
  );
}
