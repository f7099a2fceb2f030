/**
 * Colours and NO_COLOR. chalk (under Ink) picks its colour level when first imported, from the
 * process's stdout, which under the test runner is a pipe: force a level before importing Ink.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

process.env.FORCE_COLOR = '1';
const { render } = await import('ink-testing-library');
const { createElement } = await import('react');
const { App } = await import('../src/ui/App.js');
const { themeFor } = await import('../src/ui/theme.js');
const { at, settle, storeOf, tcp, ticksOf } = await import('./helpers/ui-fixtures.js');

/** f1 sends in the second tick, f2 is idle in it. */
const [, tick] = ticksOf([
  at(0, [tcp(1, 0, 0), tcp(2, 0, 0)]),
  at(1, [tcp(1, 100, 1), tcp(2, 100, 1)]),
  at(2, [tcp(1, 200, 2, { lastSeenNs: 2e9 }), tcp(2, 100, 1)]),
]);

async function frameWith(env: NodeJS.ProcessEnv): Promise<string[]> {
  const store = storeOf();
  const app = render(createElement(App, { store, theme: themeFor(env) }));
  store.dispatch({ type: 'tick', tick: tick! });
  await settle();
  const lines = (app.lastFrame() ?? '').split('\n');
  app.unmount();
  return lines;
}

// SGR parameters that set a foreground or background colour.
const COLOUR = /\u001B\[(?:3[0-8]|9[0-7]|4[0-8]|10[0-7])[;m]/;

describe('colour', () => {
  it('uses colour by default, and attributes for selection and idle rows', async () => {
    const lines = await frameWith({});
    assert.match(lines.join('\n'), COLOUR);
    assert.match(lines[4]!, /\u001B\[7m/, 'the selected row is inverse');
    assert.match(lines[5]!, /\u001B\[2m.*10\.0\.0\.2/, 'the idle flow is dim');
  });

  it('NO_COLOR removes every colour but keeps the attributes', async () => {
    const lines = await frameWith({ NO_COLOR: '1' });
    assert.doesNotMatch(lines.join('\n'), COLOUR);
    assert.match(lines[4]!, /\u001B\[7m/);
    assert.match(lines[5]!, /\u001B\[2m.*10\.0\.0\.2/);
  });

  it('an empty NO_COLOR does not count', async () => {
    assert.match((await frameWith({ NO_COLOR: '' })).join('\n'), COLOUR);
  });
});
