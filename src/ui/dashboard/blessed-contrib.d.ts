/** The part of blessed-contrib (which ships no types) that the dashboard uses. */
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';

  export interface LineSeries {
    title: string;
    x: string[];
    y: number[];
    style?: { line?: string };
  }

  export interface LineOptions extends Widgets.BoxOptions {
    showLegend?: boolean;
    legend?: { width?: number };
    maxY?: number;
    minY?: number;
    numYLabels?: number;
    xLabelPadding?: number;
    xPadding?: number;
    wholeNumbersOnly?: boolean;
    showNthLabel?: number;
    style?: Widgets.BoxOptions['style'] & { line?: string; text?: string; baseline?: string };
  }

  export interface LineElement extends Widgets.BoxElement {
    options: LineOptions;
    setData(data: LineSeries[]): void;
  }

  export interface DonutItem {
    percent: number;
    label: string;
    color?: string;
  }

  export interface DonutOptions extends Widgets.BoxOptions {
    radius?: number;
    arcWidth?: number;
    remainColor?: string;
    yPadding?: number;
    data?: DonutItem[];
  }

  export interface DonutElement extends Widgets.BoxElement {
    options: DonutOptions;
    setData(data: DonutItem[]): void;
  }

  export function line(options?: LineOptions): LineElement;
  export function donut(options?: DonutOptions): DonutElement;

  const contrib: { line: typeof line; donut: typeof donut };
  export default contrib;
}
