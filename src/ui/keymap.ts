/**
 * Key bindings as data: one table from command to keys, read by the reducer to act and by the
 * help overlay and the status line to explain, so the help can never drift from the behaviour.
 */
import type { Key } from 'ink';

/** Keys that are not text. */
export type NamedKey = 'up' | 'down' | 'pageup' | 'pagedown' | 'home' | 'end' | 'enter' | 'esc' | 'backspace' | 'ctrl-c';

/** A key press as the reducer sees it: a named key, or text (one character, or a paste). */
export type KeyAction = { readonly type: 'key'; readonly key: NamedKey } | { readonly type: 'text'; readonly text: string };

export type Command =
  | 'sortLeft'
  | 'sortRight'
  | 'reverse'
  | 'sortBytes'
  | 'sortPackets'
  | 'sortRate'
  | 'window2'
  | 'window10'
  | 'window40'
  | 'cumulative'
  | 'up'
  | 'down'
  | 'pageUp'
  | 'pageDown'
  | 'home'
  | 'end'
  | 'detail'
  | 'close'
  | 'filter'
  | 'aggregate'
  | 'pause'
  | 'steady'
  | 'units'
  | 'names'
  | 'services'
  | 'events'
  | 'help'
  | 'detach'
  | 'quit';

export interface Binding {
  readonly command: Command;
  /** Named keys, or single characters. */
  readonly keys: readonly (NamedKey | string)[];
  readonly help: string;
  /** Shown in the status line's key hints, when set. */
  readonly hint?: string;
}

export const KEYMAP: readonly Binding[] = [
  { command: 'sortLeft', keys: ['<'], help: 'sort one column to the left' },
  { command: 'sortRight', keys: ['>'], help: 'sort one column to the right', hint: 'sort' },
  { command: 'reverse', keys: ['r'], help: 'reverse the order' },
  { command: 'sortBytes', keys: ['b'], help: 'sort by bytes' },
  { command: 'sortPackets', keys: ['p'], help: 'sort by packets' },
  { command: 'sortRate', keys: ['t'], help: 'sort by rate' },
  { command: 'window2', keys: ['1'], help: 'rates over 2 s' },
  { command: 'window10', keys: ['2'], help: 'rates over 10 s' },
  { command: 'window40', keys: ['3'], help: 'rates over 40 s' },
  { command: 'cumulative', keys: ['c'], help: 'counts since start/interval' },
  { command: 'up', keys: ['up', 'k'], help: 'select the row above' },
  { command: 'down', keys: ['down', 'j'], help: 'select the row below' },
  { command: 'pageUp', keys: ['pageup'], help: 'one page up' },
  { command: 'pageDown', keys: ['pagedown'], help: 'one page down' },
  { command: 'home', keys: ['home'], help: 'first row' },
  { command: 'end', keys: ['end'], help: 'last row' },
  { command: 'detail', keys: ['enter'], help: 'details of the selected row', hint: 'detail' },
  { command: 'close', keys: ['esc'], help: 'close the pane' },
  { command: 'filter', keys: ['/'], help: 'filter (tcpdump-like)', hint: 'filter' },
  { command: 'aggregate', keys: ['a'], help: 'group: host/port/conversation', hint: 'group' },
  { command: 'pause', keys: [' '], help: 'pause (counting goes on)', hint: 'pause' },
  { command: 'steady', keys: ['o'], help: 'freeze the row order' },
  { command: 'units', keys: ['u'], help: 'rates in bits or bytes' },
  { command: 'names', keys: ['n'], help: 'host names (reverse DNS)' },
  { command: 'services', keys: ['s'], help: 'service names for ports' },
  { command: 'events', keys: ['e'], help: 'flows created and expired' },
  { command: 'help', keys: ['?'], help: 'this help', hint: 'help' },
  { command: 'detach', keys: ['D'], help: 'detach hooks, freeze table' },
  { command: 'quit', keys: ['q', 'ctrl-c'], help: 'detach hooks and quit', hint: 'quit' },
];

const COMMANDS: ReadonlyMap<string, Command> = new Map(KEYMAP.flatMap((b) => b.keys.map((k): [string, Command] => [k, b.command])));

/** The command bound to a key press, if any (pasted text binds to nothing). */
export function commandFor(press: KeyAction): Command | undefined {
  return COMMANDS.get(press.type === 'key' ? press.key : press.text);
}

const LABELS: ReadonlyMap<string, string> = new Map([
  ['up', '↑'],
  ['down', '↓'],
  ['pageup', 'PgUp'],
  ['pagedown', 'PgDn'],
  ['home', 'Home'],
  ['end', 'End'],
  ['enter', 'Enter'],
  ['esc', 'Esc'],
  ['ctrl-c', 'Ctrl-C'],
  [' ', 'Space'],
]);

export function keyLabel(key: string): string {
  return LABELS.get(key) ?? key;
}

/** Ink's key flags that tc-top uses, in the order they are tested. */
const NAMED: readonly (readonly [keyof Key, NamedKey])[] = [
  ['upArrow', 'up'],
  ['downArrow', 'down'],
  ['pageUp', 'pageup'],
  ['pageDown', 'pagedown'],
  ['home', 'home'],
  ['end', 'end'],
  ['return', 'enter'],
  ['escape', 'esc'],
  ['backspace', 'backspace'],
  // Most terminals send DEL for the backspace key, which Ink reports as delete.
  ['delete', 'backspace'],
];

/** Ink's view of a key press as a KeyAction; undefined for keys tc-top does not use. */
export function keyAction(input: string, key: Key): KeyAction | undefined {
  const named = NAMED.find(([flag]) => key[flag])?.[1] ?? (key.ctrl && input === 'c' ? 'ctrl-c' : undefined);
  if (named) return { type: 'key', key: named };
  if (key.ctrl || key.meta || key.tab || input === '') return undefined;
  return { type: 'text', text: input };
}
