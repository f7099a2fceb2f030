/**
 * Colours, or none: NO_COLOR (https://no-color.org) is honoured here because chalk, under Ink,
 * does not read it. Without colour, marks in the text (> + ▼) and attributes (bold, dim, inverse)
 * still carry the meaning.
 */
export interface Theme {
  readonly accent: string | undefined;
  /** New flows. */
  readonly fresh: string | undefined;
  readonly warn: string | undefined;
  readonly error: string | undefined;
}

const COLOURS: Theme = { accent: 'cyan', fresh: 'green', warn: 'yellow', error: 'red' };
const PLAIN: Theme = { accent: undefined, fresh: undefined, warn: undefined, error: undefined };

export function themeFor(env: NodeJS.ProcessEnv): Theme {
  return env.NO_COLOR ? PLAIN : COLOURS;
}
