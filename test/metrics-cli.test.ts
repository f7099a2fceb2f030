/** The command line of the exporter and the dashboard: --metrics, --metrics-top, --no-ui, --dashboard. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Options, parseArgs, UsageError } from '../bin/cli.js';

function parse(argv: readonly string[], isTty = true): Options {
  const parsed = parseArgs(argv, isTty);
  assert.ok(!('exit' in parsed), 'options, not help');
  return parsed;
}

function usageError(argv: readonly string[], pattern: RegExp, isTty = true): void {
  assert.throws(() => parseArgs(argv, isTty), (err: unknown) => err instanceof UsageError && pattern.test(err.message));
}

describe('--metrics, --metrics-top, --no-ui, --dashboard', () => {
  it('has no exporter unless asked', () => {
    const o = parse([]);
    assert.equal(o.metrics, undefined);
    assert.equal(o.metricsTop, 50);
    assert.equal(o.output, 'tui');
  });

  it('listens on 127.0.0.1:9464 for a bare --metrics, and where told otherwise', () => {
    assert.deepEqual(parse(['--metrics']).metrics, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parse(['--metrics', '9100']).metrics, { host: '127.0.0.1', port: 9100 });
    assert.deepEqual(parse(['--metrics', '0.0.0.0:9100']).metrics, { host: '0.0.0.0', port: 9100 });
    assert.deepEqual(parse(['--metrics=[::1]:9100']).metrics, { host: '::1', port: 9100 });
    usageError(['--metrics', '127.0.0.1:99999'], /^--metrics: '127\.0\.0\.1:99999' has no valid port/);
    usageError(['--metrics', ':1', '--metrics', ':2'], /--metrics is given more than once/);
  });

  it('takes --metrics-top from 0 up', () => {
    assert.equal(parse(['--metrics', '--metrics-top', '0']).metricsTop, 0);
    assert.equal(parse(['--metrics', '--metrics-top', '7']).metricsTop, 7);
    usageError(['--metrics-top', '-1'], /--metrics-top must be an integer from 0/);
    usageError(['--metrics-top', '2.5'], /--metrics-top must be an integer/);
  });

  it('--no-ui runs the exporter alone, and only with --metrics', () => {
    const o = parse(['--metrics', '--no-ui']);
    assert.equal(o.output, 'none');
    assert.equal(parse(['--no-ui', '--metrics', ':9100'], false).output, 'none');
    usageError(['--no-ui'], /--no-ui needs --metrics/);
    usageError(['--metrics', '--no-ui', '--json'], /--no-ui runs no view/);
    usageError(['--metrics', '--no-ui', '--dashboard'], /--no-ui runs no view/);
  });

  it('--dashboard needs a terminal and no line-oriented output', () => {
    assert.equal(parse(['--dashboard']).output, 'dashboard');
    assert.equal(parse(['--dashboard', '--metrics']).output, 'dashboard');
    usageError(['--dashboard'], /--dashboard needs a terminal/, false);
    usageError(['--dashboard', '--json'], /mutually exclusive/);
    usageError(['--dashboard', '--batch'], /mutually exclusive/);
  });

  it('--metrics goes with every view', () => {
    assert.equal(parse(['--metrics', '--json']).output, 'json');
    assert.equal(parse(['--metrics', '--batch']).output, 'batch');
    assert.equal(parse(['--metrics'], false).output, 'batch');
  });
});
