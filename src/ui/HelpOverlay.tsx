/** The key bindings, drawn from the same table the reducer acts on, in as many columns as the height needs. */
import { Box } from 'ink';
import { KEYMAP, keyLabel } from './keymap.js';
import { Line } from './Line.js';
import { fit } from '../model/text.js';
import type { Theme } from './theme.js';

const KEYS_WIDTH = 9;
const FILTER_SYNTAX = 'filter: tcp udp icmp · [src|dst] host A · [src|dst] port N · net CIDR · and or not ( )';

const ENTRIES = KEYMAP.map((b) => fit(b.keys.map(keyLabel).join(' '), KEYS_WIDTH) + b.help);

export function HelpOverlay({ width, height, theme }: { readonly width: number; readonly height: number; readonly theme: Theme }) {
  const columns = Math.ceil(ENTRIES.length / Math.max(1, height - 3));
  const rows = Math.ceil(ENTRIES.length / columns);
  const columnWidth = Math.floor(width / columns);
  const lines = Array.from({ length: Math.min(rows, ENTRIES.length) }, (_, i) =>
    Array.from({ length: columns }, (_, c) => fit(ENTRIES[c * rows + i] ?? '', columnWidth - 1)).join(' '),
  );
  return (
    <Box flexDirection="column" height={height}>
      <Line segments={[{ text: 'tc-top keys (any key closes this help)', bold: true, color: theme.accent }]} width={width} />
      {lines.map((line, i) => (
        <Line key={i} segments={[{ text: line }]} width={width} />
      ))}
      <Line segments={[]} width={width} />
      <Line segments={[{ text: FILTER_SYNTAX, dim: true }]} width={width} />
    </Box>
  );
}
