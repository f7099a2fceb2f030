/**
 * The dashboard's widgets (blessed + blessed-contrib), drawn from a DashState. Every number and
 * line of text comes from the state's selectors; this file only places widgets and hands them data.
 * blessed-contrib's canvases size themselves once, when attached, so a new terminal size rebuilds
 * the widgets instead of moving them.
 */
import blessed from 'blessed';
import contrib, { type DonutElement, type LineElement } from 'blessed-contrib';
import { hooksText } from '../Header.js';
import { truncate } from '../../model/text.js';
import type { NamedKey, KeyAction } from '../keymap.js';
import {
  chartData,
  dashLayout,
  donutRadius,
  eventLines,
  eventsLabel,
  headerText,
  helpLines,
  PROTO_BUCKETS,
  protoLines,
  protoMix,
  tableLabel,
  tableLines,
  talkerLines,
  type DashMeta,
  type DashState,
  type Rect,
} from './dashboard-state.js';

/** in/out colours per interface, in order. */
const PALETTE: readonly (readonly [string, string])[] = [
  ['green', 'red'],
  ['cyan', 'magenta'],
  ['yellow', 'blue'],
  ['white', 'grey'],
];
const PROTO_COLOURS: Readonly<Record<(typeof PROTO_BUCKETS)[number], string>> = { tcp: 'green', udp: 'cyan', icmp: 'yellow', other: 'magenta' };

export interface DashboardIo {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  /** terminfo name; default $TERM. */
  readonly terminal?: string;
}

interface Widgets {
  readonly key: string;
  readonly header: blessed.Widgets.BoxElement;
  readonly chart: LineElement;
  readonly talkers: blessed.Widgets.BoxElement;
  /** Donuts, or text bars when the panel is too small for them. */
  readonly proto: DonutElement | blessed.Widgets.BoxElement;
  readonly table: blessed.Widgets.BoxElement;
  readonly events: blessed.Widgets.BoxElement;
  readonly help: blessed.Widgets.BoxElement;
}

const BORDER = { type: 'line' } as const;
const PANEL_STYLE = { border: { fg: 'cyan' }, label: { fg: 'white', bold: true } };

/** A panel's title cut to its top border (blessed would wrap it into the panel). */
function fitLabel(label: string, r: Rect): string {
  return truncate(label, Math.max(0, r.width - 4));
}

function at(r: Rect) {
  return { top: r.top, left: r.left, width: r.width, height: r.height };
}

/** blessed's key event as the TUI's key action, so both go through the same keymap. */
export function dashboardKey(ch: string | undefined, key: { name?: string; full?: string; ctrl?: boolean; meta?: boolean } | undefined): KeyAction | undefined {
  const named: Readonly<Record<string, NamedKey>> = { up: 'up', down: 'down', pageup: 'pageup', pagedown: 'pagedown', home: 'home', end: 'end', enter: 'enter', return: 'enter', escape: 'esc', backspace: 'backspace' };
  if (key?.full === 'C-c') return { type: 'key', key: 'ctrl-c' };
  const name = key?.name !== undefined ? named[key.name] : undefined;
  if (name) return { type: 'key', key: name };
  if (key?.ctrl || key?.meta || ch === undefined || ch.length !== 1 || ch < ' ') return undefined;
  return { type: 'text', text: ch };
}

export class DashboardScreen {
  readonly screen: blessed.Widgets.Screen;
  private widgets: Widgets | undefined;
  private readonly hooks: string;

  constructor(io: DashboardIo, meta: DashMeta) {
    this.screen = blessed.screen({
      input: io.input as never,
      output: io.output as never,
      terminal: io.terminal ?? process.env.TERM ?? 'xterm-256color',
      smartCSR: true,
      fullUnicode: true,
      forceUnicode: true,
      warnings: false,
      autoPadding: false,
      title: 'tc-top',
    });
    // Draw box lines as the Unicode characters they are. blessed otherwise switches to the
    // terminal's alternate character set wherever terminfo offers one, and under TERM=screen
    // (tmux, screen) that shows as letters: lqqk.
    (this.screen as unknown as { tput: { brokenACS: boolean } }).tput.brokenACS = true;
    this.hooks = hooksText(meta.interfaces, meta.hooks);
  }

  /** Key presses as KeyActions. */
  onKey(handler: (press: KeyAction) => void): void {
    this.screen.on('keypress', (ch: string | undefined, key: { name?: string; full?: string; ctrl?: boolean; meta?: boolean } | undefined) => {
      const press = dashboardKey(ch, key);
      if (press) handler(press);
    });
  }

  /** The terminal's size, as blessed sees it. */
  size(): { columns: number; rows: number } {
    return { columns: this.screen.width as number, rows: this.screen.height as number };
  }

  private build(state: DashState): Widgets {
    const l = dashLayout(state.size.columns, state.size.rows);
    for (const child of [...this.screen.children]) child.detach();
    const panel = (r: Rect, label: string) =>
      blessed.box({ ...at(r), label: fitLabel(label, r), border: BORDER, tags: false, style: PANEL_STYLE, wrap: false });
    const header = blessed.box({ ...at(l.header), tags: false, style: { fg: 'black', bg: 'cyan' } });
    const chart = contrib.line({
      ...at(l.chart),
      label: ' rate ',
      border: BORDER,
      showLegend: true,
      legend: { width: Math.min(24, Math.max(10, ...state.meta.interfaces.map((i) => i.length + 8))) },
      numYLabels: 5,
      xLabelPadding: 3,
      xPadding: 5,
      style: { ...PANEL_STYLE, line: 'green', text: 'white', baseline: 'white' },
    });
    const talkers = panel(l.talkers, ' top talkers (by source host) ');
    const protoLabel = ' protocol mix (bytes, last minute) ';
    const proto =
      donutRadius(l.proto) >= 4
        ? contrib.donut({ ...at(l.proto), label: fitLabel(protoLabel, l.proto), border: BORDER, style: PANEL_STYLE, remainColor: 'black', yPadding: 2 })
        : panel(l.proto, protoLabel);
    const table = panel(l.table, ' top flows ');
    const events = panel(l.events, ' events ');
    const help = blessed.box({ top: 'center', left: 'center', width: 74, height: helpLines().length + 2, border: BORDER, tags: false, hidden: true, style: { border: { fg: 'yellow' }, bg: 'black' } });
    for (const w of [header, chart, talkers, proto, table, events, help]) this.screen.append(w);
    return { key: `${state.size.columns}x${state.size.rows}`, header, chart, talkers, proto, table, events, help };
  }

  /** Draws the state (rebuilding the widgets when the size changed) and renders the screen. */
  draw(state: DashState): void {
    const key = `${state.size.columns}x${state.size.rows}`;
    if (this.widgets?.key !== key) this.widgets = this.build(state);
    const w = this.widgets;
    const l = dashLayout(state.size.columns, state.size.rows);

    w.header.setContent(headerText(state, this.hooks));

    const chart = chartData(state, Math.max(2, l.chart.width - 12));
    const several = state.meta.interfaces.length > 1;
    w.chart.setLabel(fitLabel(` rate in/out (${chart.unit}${several ? ', IP flows' : ''}), last 5 min `, l.chart));
    if (chart.labels.length > 0) {
      w.chart.options.maxY = chart.maxY;
      w.chart.setData(
        chart.series.map((s, i) => ({
          title: s.title,
          x: [...chart.labels],
          y: [...s.values],
          style: { line: PALETTE[Math.floor(i / 2) % PALETTE.length]![i % 2]! },
        })),
      );
    }

    w.talkers.setContent(talkerLines(state).join('\n'));

    if ('setData' in w.proto) {
      // The donuts' radius follows the panel: four side by side, with room for the labels below.
      const radius = donutRadius(l.proto);
      w.proto.options.radius = radius;
      w.proto.options.arcWidth = Math.max(1, Math.round(radius / 3));
      const mix = protoMix(state);
      w.proto.setData(PROTO_BUCKETS.map((b) => ({ label: b, percent: mix[b], color: PROTO_COLOURS[b] })));
    } else {
      w.proto.setContent(protoLines(state, l.proto.width - 2).join('\n'));
    }

    w.table.setLabel(fitLabel(tableLabel(state), l.table));
    w.table.setContent(tableLines(state).join('\n'));
    w.events.setLabel(fitLabel(eventsLabel(state), l.events));
    w.events.setContent(eventLines(state).join('\n'));

    w.help.setContent(helpLines().join('\n'));
    if (state.help) {
      w.help.show();
      w.help.setFront();
    } else {
      w.help.hide();
    }
    this.screen.render();
  }

  /** The screen as plain text, one string per row (what a test or a screenshot reads). */
  text(): string[] {
    const lines = (this.screen as unknown as { lines: [unknown, string][][] }).lines;
    return lines.map((row) => row.map((cell) => cell[1]).join('').trimEnd());
  }

  /** Gives the terminal back: normal screen, cursor shown, input no longer raw. */
  destroy(): void {
    this.screen.destroy();
  }
}
