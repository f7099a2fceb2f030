/** The sort commands the TUI and the dashboard share: move the sort column, reverse, direct sorts. */
import type { SortField } from '../model/sort.js';
import type { Command } from './keymap.js';

export interface SortState {
  readonly sort: SortField;
  readonly descending: boolean;
}

/**
 * The state after a sort command, or undefined when the command is not one. `fields` are the
 * sortable columns on screen, left to right: `<` and `>` stop at either end.
 */
export function applySortCommand<S extends SortState>(s: S, command: Command, fields: readonly SortField[]): S | undefined {
  switch (command) {
    case 'sortLeft':
    case 'sortRight': {
      const step = command === 'sortLeft' ? -1 : 1;
      const at = fields.indexOf(s.sort);
      const next = at < 0 ? (step > 0 ? 0 : fields.length - 1) : Math.min(fields.length - 1, Math.max(0, at + step));
      return { ...s, sort: fields[next] ?? s.sort };
    }
    case 'reverse':
      return { ...s, descending: !s.descending };
    case 'sortBytes':
      return { ...s, sort: 'bytes', descending: true };
    case 'sortPackets':
      return { ...s, sort: 'packets', descending: true };
    case 'sortRate':
      return { ...s, sort: 'bps', descending: true };
    default:
      return undefined;
  }
}
