/** The kernel features table: versions, the one-line errors and notices, and the README's copy. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { OLDEST_KERNEL, kernelsMarkdown, missingRequired, noTcx, parseRelease, releaseHas, tcxFallback } from '../src/collectors/kernel-features.js';

describe('kernel features by release', () => {
  it('reads major.minor from the release strings distributions use', () => {
    for (const [rel, v] of [
      ['6.1.0-57-amd64', [6, 1]],
      ['6.12.117+deb12-amd64', [6, 12]],
      ['5.14.0-427.13.1.el9_4.x86_64', [5, 14]],
      ['5.15.0-119-generic', [5, 15]],
      ['6.18.44-fc-v857', [6, 18]],
      ['garbage', undefined],
    ] as const) {
      assert.deepEqual(parseRelease(rel), v, rel);
    }
  });

  it('says which kernels have tcx (6.6) and XDP links (5.9)', () => {
    for (const [rel, tcx, xdpLinks] of [
      ['5.8.0', false, false],
      ['5.9.0', false, true],
      ['6.1.0-57-amd64', false, true],
      ['6.5.13', false, true],
      ['6.6.0', true, true],
      ['6.12.117+deb12-amd64', true, true],
      ['7.0.0', true, true],
    ] as const) {
      assert.equal(releaseHas('tcx', rel), tcx, `tcx on ${rel}`);
      assert.equal(releaseHas('xdpLinks', rel), xdpLinks, `XDP links on ${rel}`);
    }
  });

  it('the oldest kernel that runs tc-top is 5.12 (BPF atomics); older ones get one line naming the feature', () => {
    assert.equal(OLDEST_KERNEL, '5.12');
    assert.equal(missingRequired('5.12.0'), undefined);
    assert.equal(missingRequired('6.1.0-57-amd64'), undefined);
    assert.equal(
      missingRequired('5.11.22'),
      'this kernel (5.11.22) has no BPF atomics (fetch-and-or, compare-and-swap), which came in Linux 5.12: tc-top needs Linux 5.12 or newer',
    );
    assert.equal(
      missingRequired('5.4.0-200-generic'),
      'this kernel (5.4.0-200-generic) has no BPF atomics (fetch-and-or, compare-and-swap), which came in Linux 5.12: tc-top needs Linux 5.12 or newer',
    );
    assert.equal(missingRequired('unreadable'), undefined, 'no claim about a release it cannot read');
  });

  it('--tc-mode tcx without tcx, and the fallback notice, are one line each', () => {
    assert.equal(noTcx('6.1.0-57-amd64'), 'this kernel (6.1.0-57-amd64) has no tcx links, which came in Linux 6.6: use --tc-mode auto or legacy (clsact filters)');
    assert.equal(
      tcxFallback('6.1.0-57-amd64'),
      'this kernel (6.1.0-57-amd64) has no tcx links (Linux 6.6): using clsact filters, which a SIGKILL leaves behind (`tc-top --cleanup` removes them)',
    );
  });

  it("the README's kernel table matches the features table", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const m = /<!-- kernels:start -->\n([\s\S]*?)\n<!-- kernels:end -->/.exec(readme);
    assert.ok(m, 'README.md has a kernel table between <!-- kernels:start --> and <!-- kernels:end -->');
    assert.equal(m[1], kernelsMarkdown(), `paste this between the markers in README.md:\n${kernelsMarkdown()}`);
  });
});
