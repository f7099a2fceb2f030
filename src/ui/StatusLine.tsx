/** The bottom line: filter (or its error), grouping, sort, frozen order, pause, position, and key hints. */
import { keyLabel, KEYMAP } from './keymap.js';
import { Line } from './Line.js';
import { segmentsWidth, type Segment } from '../model/text.js';
import type { Theme } from './theme.js';

export interface StatusLineProps {
  /** The filter in force, as text ('' for none). */
  readonly filter: string;
  readonly filterError: string | undefined;
  readonly aggregation: string;
  /** The sort column's title, or the field's name when no column shows it. */
  readonly sort: string;
  readonly descending: boolean;
  /** The row order is frozen (o). */
  readonly steady: boolean;
  readonly paused: boolean;
  /** Ranks shown (1-based) and the row count. */
  readonly first: number;
  readonly last: number;
  readonly total: number;
  readonly width: number;
  readonly theme: Theme;
}

/** Key hints from the keymap, help first: the line keeps as many as fit. */
const HINTS = KEYMAP.filter((b) => b.hint)
  .sort((a, b) => Number(b.command === 'help') - Number(a.command === 'help'))
  .map((b) => `${keyLabel(b.keys[0] ?? '')} ${b.hint}`);

function hintsFitting(room: number): string {
  let text = '';
  for (const hint of HINTS) {
    const next = text ? `${text}  ${hint}` : hint;
    if (next.length > room) break;
    text = next;
  }
  return text;
}

export function StatusLine(p: StatusLineProps) {
  const segments: Segment[] = [
    ...(p.filterError ? [{ text: `✗ ${p.filterError}`, color: p.theme.error, bold: true }, { text: '  ' }] : []),
    { text: `filter ${p.filter || 'none'}   group ${p.aggregation}   sort ${p.sort}${p.descending ? '▼' : '▲'}   ` },
    ...(p.steady ? [{ text: 'ORDER FROZEN', inverse: true }, { text: '   ' }] : []),
    ...(p.paused ? [{ text: 'PAUSED', inverse: true, color: p.theme.warn }, { text: '   ' }] : []),
    { text: p.total === 0 ? '0 rows' : `${p.first}-${p.last} of ${p.total}` },
  ];
  const room = p.width - segmentsWidth(segments);
  const hints = hintsFitting(room - 3);
  const right: Segment[] = hints ? [{ text: ' '.repeat(room - hints.length) }, { text: hints, dim: true }] : [];
  return <Line segments={[...segments, ...right]} width={p.width} />;
}
