/**
 * Text for a fixed-width terminal: fitting (string-width, ellipsis, never wrapping), number and
 * time formats sized for narrow columns, and the block-character sparkline. Pure functions.
 */
import prettyBytes from 'pretty-bytes';
import stringWidth from 'string-width';
import type { ExportStatus } from './types.js';

const ELLIPSIS = '…';

/** Printable ASCII only: one column a character, no need to ask string-width. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Columns the text takes in a terminal. string-width for anything beyond printable ASCII (wide
 * characters, emoji, the ellipsis); the fast path matters: every cell of every frame is measured.
 */
export function textWidth(text: string): number {
  return PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text);
}

export type Units = 'bits' | 'bytes';
export type Align = 'left' | 'right';

/** The longest prefix of text at most `width` columns wide. */
function cut(text: string, width: number): string {
  if (PRINTABLE_ASCII.test(text)) return text.slice(0, Math.max(0, width));
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = stringWidth(ch);
    if (used + w > width) break;
    out += ch;
    used += w;
  }
  return out;
}

/** At most `width` columns; an ellipsis marks that something was cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  return textWidth(text) <= width ? text : cut(text, width - 1) + ELLIPSIS;
}

/** Exactly `width` columns: truncated, then padded on the side away from the alignment. */
export function fit(text: string, width: number, align: Align = 'left'): string {
  const cut = truncate(text, width);
  const gap = ' '.repeat(Math.max(0, width - textWidth(cut)));
  return align === 'right' ? gap + cut : cut + gap;
}

/** Like fit, but cuts `head` first so that `tail` (a port, say) stays readable. */
export function fitKeepingTail(head: string, tail: string, width: number, align: Align = 'left'): string {
  const tailWidth = textWidth(tail);
  if (textWidth(head) + tailWidth <= width || tailWidth >= width - 1) return fit(head + tail, width, align);
  return fit(truncate(head, width - tailWidth) + tail, width, align);
}

/** A rate as bits/s or bytes/s with pretty-bytes' three significant digits: '1.23 Mbit/s'. */
export function formatRate(bitsPerSecond: number, units: Units): string {
  const value = units === 'bits' ? bitsPerSecond : bitsPerSecond / 8;
  // Below a kilo there are no fractions of a bit or byte worth showing (a window's tail gives 0.03).
  const shown = value < 1000 ? Math.round(value) : value;
  // With bits: true, pretty-bytes takes a number of bits.
  return `${units === 'bits' ? prettyBytes(shown, { bits: true }) : prettyBytes(shown)}/s`;
}

export function formatBytes(bytes: number): string {
  return prettyBytes(bytes);
}

/** Three significant digits with k/M/G/T, for counts too large for their column. */
function compact(n: number): string {
  const units = ['k', 'M', 'G', 'T'];
  let value = n;
  let unit = '';
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)}${unit}`;
}

/** Exact up to seven digits, then compact: a packet count that fits eight columns. */
export function formatCount(n: number): string {
  return n < 1e7 ? String(Math.round(n)) : compact(n);
}

/** Packets per second: a decimal below 10 so slow flows do not read as 0. */
export function formatPps(pps: number): string {
  if (pps < 10) return pps.toFixed(1);
  return pps < 10_000 ? pps.toFixed(0) : compact(pps);
}

/** A duration in at most six columns: 59s, 12m34s, 5h02m, 3d04h. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** Elapsed time as H:MM:SS. */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/** Local wall-clock time of day, HH:MM:SS. */
export function formatClock(wallMs: number): string {
  const d = new Date(wallMs);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

const BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * The last `width` values as block characters, scaled to the largest of them (a zero maximum
 * gives a flat line of the lowest block). Non-positive and non-finite values are the lowest block.
 */
export function sparkline(values: readonly number[], width: number): string {
  const shown = width > 0 ? values.slice(-width) : [];
  const max = Math.max(0, ...shown.filter(Number.isFinite));
  let out = '';
  for (const v of shown) {
    const level = max > 0 && Number.isFinite(v) && v > 0 ? Math.round((v / max) * (BLOCKS.length - 1)) : 0;
    out += BLOCKS[level];
  }
  return out;
}

/** A run of text in one style; a line is a list of them. */
export interface Segment {
  readonly text: string;
  readonly color?: string | undefined;
  readonly bold?: boolean;
  readonly dim?: boolean;
  readonly inverse?: boolean;
}

/** Segments cut to `width` columns in all, with an ellipsis at the cut. */
export function fitSegments(segments: readonly Segment[], width: number): Segment[] {
  if (segmentsWidth(segments) <= width) return [...segments];
  const out: Segment[] = [];
  let left = width - 1;
  for (const seg of segments) {
    if (left <= 0) break;
    const text = cut(seg.text, left);
    out.push({ ...seg, text });
    left -= textWidth(text);
  }
  const last = out.pop() ?? { text: '' };
  return width > 0 ? [...out, { ...last, text: last.text + ELLIPSIS }] : [];
}

export function segmentsWidth(segments: readonly Segment[]): number {
  return segments.reduce((sum, seg) => sum + textWidth(seg.text), 0);
}

/** '── title ─────…' across the width. */
export function rule(title: string, width: number): string {
  const head = `── ${title} `;
  return truncate(head + '─'.repeat(Math.max(0, width - textWidth(head))), width);
}

/** A flow exporter in a header: 'ipfix 120 rec', then its failed sends when there are any. */
export function exportText(e: ExportStatus): string {
  return `${e.kind} ${formatCount(e.records)} rec` + (e.sendErrors > 0 ? ` ${formatCount(e.sendErrors)} send errors${e.lastError ? ` (${e.lastError})` : ''}` : '');
}
