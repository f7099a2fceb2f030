/** Shown once `D` was pressed: the hooks are gone and the table no longer updates. */
import { Line } from './Line.js';
import type { Theme } from './theme.js';

export interface BannerProps {
  readonly done: boolean;
  readonly lines: readonly string[];
  readonly width: number;
  readonly theme: Theme;
}

export function Banner({ done, lines, width, theme }: BannerProps) {
  const text = done ? ['hooks detached, table frozen (q quits)', ...lines].join('; ') : 'detaching the hooks…';
  return <Line segments={[{ text: ` ${text} `, inverse: true, bold: true, color: theme.warn }]} width={width} />;
}
