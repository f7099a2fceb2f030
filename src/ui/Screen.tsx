/** The whole screen as a pure function of the state: header, table or help, pane, banner, status. */
import { Box } from 'ink';
import { filterToString } from '../model/filter.js';
import { Banner } from './Banner.js';
import type { CellContext } from './columns.js';
import { DetailPane } from './DetailPane.js';
import { EventsPane } from './EventsPane.js';
import { FilterPrompt } from './FilterPrompt.js';
import { FlowTable } from './FlowTable.js';
import { Header } from './Header.js';
import { HelpOverlay } from './HelpOverlay.js';
import { MIN_COLUMNS, MIN_ROWS } from './layout.js';
import { Line } from './Line.js';
import {
  currentLayout,
  rowRateKey,
  selectedRow,
  shownColumns,
  shownData,
  shownRows,
  visibleRows,
  type UiState,
} from './state.js';
import { StatusLine } from './StatusLine.js';
import type { Theme } from './theme.js';

export function Screen({ state, theme }: { readonly state: UiState; readonly theme: Theme }) {
  const { columns: width, rows: height } = state.size;
  const box = currentLayout(state);
  if (box.tiny) {
    const message = `terminal too small: ${width}x${height}, tc-top needs ${MIN_COLUMNS}x${MIN_ROWS}`;
    return <Line segments={[{ text: message, bold: true }]} width={width} />;
  }
  const data = shownData(state);
  const tick = data.tick;
  const ctx: CellContext = {
    units: state.units,
    services: state.services,
    names: state.showNames ? state.names : undefined,
    nowNs: tick?.snapshot.monoNs ?? 0,
  };
  const columns = shownColumns(state);
  const total = shownRows(state).length;
  const rows = visibleRows(state);
  const sortColumn = columns.find((c) => c.column.sort === state.sort);
  const filter = filterToString(state.filter);
  const empty = !tick ? 'waiting for the first sample…' : filter ? 'no flow matches the filter' : 'no flows yet';
  const selected = selectedRow(state);
  return (
    <Box flexDirection="column" width={width}>
      <Header meta={state.meta} data={data} units={state.units} window={state.window} width={width} theme={theme} />
      {state.help ? (
        <HelpOverlay width={width} height={box.tableRows + 1 + box.paneRows} theme={theme} />
      ) : (
        <>
          <FlowTable
            columns={columns}
            rows={rows}
            scroll={state.scroll}
            selectedRank={state.selection.rank}
            sort={state.sort}
            descending={state.descending}
            ctx={ctx}
            height={box.tableRows}
            width={width}
            empty={empty}
            theme={theme}
          />
          {state.pane === 'detail' && (
            <DetailPane
              row={selected}
              snapshot={tick?.snapshot}
              rates={(selected && data.rowRates.get(rowRateKey(state.aggregation, selected.key))?.map((x) => x.value)) || []}
              window={state.window}
              ctx={ctx}
              width={width}
              height={box.paneRows}
              theme={theme}
            />
          )}
          {state.pane === 'events' && <EventsPane events={data.events} ctx={ctx} width={width} height={box.paneRows} theme={theme} />}
        </>
      )}
      {state.detach !== 'none' && <Banner done={state.detach === 'done'} lines={state.detachLines} width={width} theme={theme} />}
      {state.prompt !== undefined ? (
        <FilterPrompt text={state.prompt} width={width} />
      ) : (
        <StatusLine
          filter={filter}
          filterError={state.filterError?.message}
          aggregation={state.aggregation}
          sort={sortColumn?.column.title ?? state.sort}
          descending={state.descending}
          steady={state.steady !== undefined}
          paused={state.frozen !== undefined}
          first={state.scroll + 1}
          last={state.scroll + rows.length}
          total={total}
          width={width}
          theme={theme}
        />
      )}
    </Box>
  );
}
