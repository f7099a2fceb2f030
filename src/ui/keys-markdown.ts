/** The keymap as a Markdown table, for the README (a test keeps the README's copy identical). */
import { KEYMAP, type NamedKey } from './keymap.js';

const NAMES: Readonly<Record<NamedKey, string>> = {
  up: 'Up',
  down: 'Down',
  pageup: 'PgUp',
  pagedown: 'PgDn',
  home: 'Home',
  end: 'End',
  enter: 'Enter',
  esc: 'Esc',
  backspace: 'Backspace',
  'ctrl-c': 'Ctrl-C',
};

function keyName(key: string): string {
  if (key === ' ') return 'Space';
  return NAMES[key as NamedKey] ?? key;
}

export function keysMarkdown(): string {
  const rows = KEYMAP.map((b) => `| ${b.keys.map((k) => `\`${keyName(k)}\``).join(' ')} | ${b.help} |`);
  return ['| keys | action |', '| --- | --- |', ...rows].join('\n');
}
