/**
 * The column titles and the rows on screen (only those: the caller passes the visible window).
 * The gutter marks the selected row (>) and new flows (+), so the table reads without colour too.
 */
import { Box } from 'ink';
import type { SortField } from '../model/sort.js';
import { rowText, titleText, type CellContext, type PlacedColumn } from './columns.js';
import { Line } from './Line.js';
import type { Segment } from '../model/text.js';
import type { Theme } from './theme.js';
import { isIdleRow, isNewRow, type Row } from '../model/rows.js';

export interface FlowTableProps {
  readonly columns: readonly PlacedColumn[];
  /** The visible rows, in order; the first has rank `scroll`. */
  readonly rows: readonly Row[];
  readonly scroll: number;
  readonly selectedRank: number;
  readonly sort: SortField;
  readonly descending: boolean;
  readonly ctx: CellContext;
  /** Rows of flows, not counting the titles. */
  readonly height: number;
  readonly width: number;
  /** Shown when there are no rows. */
  readonly empty: string;
  readonly theme: Theme;
}

function rowSegments(row: Row, selected: boolean, props: FlowTableProps): Segment[] {
  const fresh = isNewRow(row, props.ctx.nowNs);
  return [
    { text: selected ? '>' : ' ', inverse: selected },
    { text: fresh ? '+' : ' ', inverse: selected, bold: fresh, color: fresh ? props.theme.fresh : undefined },
    { text: rowText(props.columns, row, props.ctx), inverse: selected, dim: !selected && isIdleRow(row) },
  ];
}

export function FlowTable(props: FlowTableProps) {
  const { columns, rows, scroll, selectedRank, width } = props;
  return (
    <Box flexDirection="column" height={props.height + 1}>
      <Line segments={[{ text: `  ${titleText(columns, props.sort, props.descending)}`, bold: true, color: props.theme.accent }]} width={width} />
      {rows.length === 0 ? (
        <Line segments={[{ text: `  ${props.empty}`, dim: true }]} width={width} />
      ) : (
        rows.map((row, i) => <Line key={row.key} segments={rowSegments(row, scroll + i === selectedRank, props)} width={width} />)
      )}
    </Box>
  );
}
