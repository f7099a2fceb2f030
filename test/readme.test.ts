/** The README's keys table is the keymap the TUI runs and the help overlay shows. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { keysMarkdown } from '../src/ui/keys-markdown.js';

it("the README's keys table matches the keymap", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const m = /<!-- keys:start -->\n([\s\S]*?)\n<!-- keys:end -->/.exec(readme);
  assert.ok(m, 'README.md has a keys table between <!-- keys:start --> and <!-- keys:end -->');
  assert.equal(m[1], keysMarkdown(), `paste this between the markers in README.md:\n${keysMarkdown()}`);
});
