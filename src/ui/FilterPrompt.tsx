/** The filter being typed, in place of the status line; long text scrolls to keep its end in view. */
import { Line } from './Line.js';
import { segmentsWidth, type Segment } from '../model/text.js';

const HELP = '  Enter applies · Esc cancels · e.g. tcp and port 443';

export function FilterPrompt({ text, width }: { readonly text: string; readonly width: number }) {
  const prefix: Segment = { text: 'filter: ', bold: true };
  const cursor: Segment = { text: ' ', inverse: true };
  const room = Math.max(1, width - segmentsWidth([prefix, cursor]));
  const shown = [...text].slice(-room).join('');
  return <Line segments={[prefix, { text: shown }, cursor, { text: HELP, dim: true }]} width={width} />;
}
