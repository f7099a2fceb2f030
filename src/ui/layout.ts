/**
 * How the terminal's lines are shared: header, table, an optional pane, banner and status line.
 * The reducer uses it for page sizes and scrolling, the components to draw, so both agree.
 */

/** Below this the layout cannot be read; the app shows a one-line message instead. */
export const MIN_COLUMNS = 60;
export const MIN_ROWS = 12;

const HEADER_ROWS = 3;
/** The detail pane: a title rule and six lines, and two each for health (RTT, retransmits, drops) and the process when the tick has them. */
const DETAIL_ROWS = 7;
const EVENTS_MIN_ROWS = 6;
const MIN_TABLE_ROWS = 3;

export type Pane = 'none' | 'detail' | 'events';

export interface Layout {
  readonly tiny: boolean;
  /** Flow rows, not counting the column titles. */
  readonly tableRows: number;
  readonly paneRows: number;
}

export function layout(columns: number, rows: number, pane: Pane, banner: boolean, detailExtra = 0): Layout {
  // Ink redraws the whole screen when a frame is as tall as the terminal: leave the last line free.
  const lines = rows - 1;
  const room = lines - HEADER_ROWS - 1 - 1 - (banner ? 1 : 0);
  const want = pane === 'detail' ? DETAIL_ROWS + detailExtra : pane === 'events' ? Math.max(EVENTS_MIN_ROWS, Math.floor(room / 3)) : 0;
  const paneRows = Math.min(want, Math.max(0, room - MIN_TABLE_ROWS));
  return { tiny: columns < MIN_COLUMNS || rows < MIN_ROWS, tableRows: Math.max(1, room - paneRows), paneRows };
}
