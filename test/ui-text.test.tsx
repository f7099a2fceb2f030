import { fitParts } from '../src/ui/Header.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import stringWidth from 'string-width';
import { AGGREGATE_MODES } from '../src/model/aggregate.js';
import { GUTTER, placeColumns } from '../src/ui/columns.js';
import { hooksText } from '../src/ui/Header.js';
import { layout } from '../src/ui/layout.js';
import {
  fit,
  fitKeepingTail,
  fitSegments,
  formatCount,
  formatDuration,
  formatElapsed,
  formatPps,
  formatRate,
  sparkline,
  truncate,
} from '../src/model/text.js';
import { HOOKS } from './helpers/ui-fixtures.js';

describe('fitting text', () => {
  const cases: [string, number, string][] = [
    ['abcdef', 6, 'abcdef'],
    ['abcdef', 5, 'abcd…'],
    ['abcdef', 1, '…'],
    ['abcdef', 0, ''],
    ['日本語', 5, '日本…'],
    ['日本語', 4, '日…'],
  ];
  for (const [text, width, want] of cases) {
    it(`truncate('${text}', ${width})`, () => assert.equal(truncate(text, width), want));
  }

  it('fit pads to the exact width on the side away from the alignment', () => {
    assert.equal(fit('ab', 4), 'ab  ');
    assert.equal(fit('ab', 4, 'right'), '  ab');
    assert.equal(fit('日本語', 5, 'right'), '日本…');
    assert.equal(stringWidth(fit('日本語', 4)), 4);
  });

  it('fitKeepingTail cuts the head first', () => {
    assert.equal(fitKeepingTail('10.100.200.30', ':51234', 14), '10.100.…:51234');
    assert.equal(fitKeepingTail('10.0.0.1', ':443', 14), '10.0.0.1:443  ');
    assert.equal(fitKeepingTail('10.0.0.1', ':51234', 6), '10.0.…', 'no room for both: the end goes');
  });

  it('fitSegments cuts across segments and marks the cut once', () => {
    const segs = fitSegments([{ text: 'abc', bold: true }, { text: 'def' }, { text: 'ghi' }], 6);
    assert.deepEqual(segs, [{ text: 'abc', bold: true }, { text: 'de…' }]);
    assert.deepEqual(fitSegments([{ text: 'abc' }, { text: 'def' }], 4), [{ text: 'abc…' }]);
    assert.deepEqual(fitSegments([{ text: 'abc' }], 3), [{ text: 'abc' }]);
  });
});

describe('numbers', () => {
  it('rates in bits or bytes per second', () => {
    assert.equal(formatRate(0, 'bits'), '0 b/s');
    assert.equal(formatRate(1_234_000, 'bits'), '1.23 Mbit/s');
    assert.equal(formatRate(8000, 'bytes'), '1 kB/s');
  });

  it('counts stay exact up to seven digits, then compact', () => {
    assert.deepEqual([0, 9_999_999, 12_345_678, 1.5e9].map(formatCount), ['0', '9999999', '12.3M', '1.50G']);
  });

  it('pps keeps a decimal below 10', () => {
    assert.deepEqual([0, 0.5, 9.96, 123.4, 12_345].map(formatPps), ['0.0', '0.5', '10.0', '123', '12.3k']);
  });

  it('durations fit six columns', () => {
    assert.deepEqual([0, 59.9, 60, 754, 3600 * 5 + 120, 86_400 * 3 + 3600 * 4, -1].map(formatDuration), [
      '0s',
      '59s',
      '1m00s',
      '12m34s',
      '5h02m',
      '3d04h',
      '0s',
    ]);
    assert.equal(formatElapsed(3723), '1:02:03');
  });
});

describe('sparkline', () => {
  it('scales to the largest value', () => assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8), '▁▂▃▄▅▆▇█'));
  it('keeps the last values that fit', () => assert.equal(sparkline([7, 0, 7], 2), '▁█'));
  it('is flat for zeros and empty for no room', () => {
    assert.equal(sparkline([0, 0], 5), '▁▁');
    assert.equal(sparkline([1, 2], 0), '');
    assert.equal(sparkline([], 5), '');
  });
  it('treats NaN and negative values as the lowest block', () => assert.equal(sparkline([Number.NaN, -1, 2], 3), '▁▁█'));
});

describe('columns', () => {
  for (const width of [58, 78, 98, 198, 298]) {
    for (const mode of AGGREGATE_MODES) {
      it(`${mode} in ${width} columns fits`, () => {
        const columns = placeColumns(mode, width);
        const used = columns.reduce((sum, c) => sum + c.width, 0) + columns.length - 1;
        assert.ok(used <= width, `${used} > ${width}`);
        assert.ok(columns.some((c) => c.column.title === 'RATE'));
      });
    }
  }

  it('puts back a narrow column that a wide one dropped after it made room for: BYTES at 80 with owners and health', () => {
    const titles = (w: number) => placeColumns('flow', w - GUTTER, { health: true, owners: true }).map((c) => c.column.title);
    assert.deepEqual(titles(80), ['PROTO', 'SOURCE', 'DESTINATION', 'DIR', 'BYTES', 'PPS', 'RATE']);
    assert.deepEqual(titles(80), placeColumns('flow', 80 - GUTTER).map((c) => c.column.title), 'the same as without them');
  });

  it('addresses get at least 18 columns at 80, with PPS and RATE side by side; AVG, AGE and PACKETS go first', () => {
    const titles = (w: number) => placeColumns('flow', w - GUTTER).map((c) => `${c.column.title}:${c.width}`);
    assert.deepEqual(titles(80), ['PROTO:6', 'SOURCE:19', 'DESTINATION:19', 'DIR:4', 'BYTES:7', 'PPS:6', 'RATE:11']);
    assert.deepEqual(titles(100), ['PROTO:6', 'SOURCE:21', 'DESTINATION:21', 'DIR:4', 'PACKETS:8', 'BYTES:7', 'PPS:6', 'RATE:11', 'AGE:6']);
    assert.deepEqual(titles(300).slice(1, 3), ['SOURCE:64', 'DESTINATION:64'], 'capped');
  });
});

describe('layout and header', () => {
  it("shares the lines, leaving the terminal's last one free", () => {
    assert.deepEqual(layout(80, 24, 'none', false), { tiny: false, tableRows: 18, paneRows: 0 });
    assert.deepEqual(layout(200, 50, 'events', true), { tiny: false, tableRows: 29, paneRows: 14 });
    assert.deepEqual(layout(60, 12, 'detail', false), { tiny: false, tableRows: 3, paneRows: 3 });
  });

  it('describes hooks per interface', () => {
    assert.equal(hooksText(['eth0'], HOOKS), 'eth0: tc ingress+egress (tcx)');
    assert.equal(
      hooksText(['eth0', 'eth1'], [
        { ifname: 'eth0', kind: 'xdp', dir: 'ingress', mode: 'generic' },
        { ifname: 'eth0', kind: 'tc', dir: 'egress', mode: 'clsact' },
      ]),
      'eth0: xdp (generic), tc egress (clsact)  eth1: no hooks',
    );
  });
});

describe('fitParts: a header line that sheds gaps, then idle parts, then the least important', () => {
  const part = (text: string, o: { drop?: number; idle?: boolean } = {}) => ({ segments: [{ text }], ...o });
  const parts = [part('in 44.3 Mbit/s'), part('out 53 kbit/s'), part('peak 44 Mbit/s', { drop: 2 }), part('total 24 MB', { drop: 1 }), part('failed 0', { idle: true })];
  const cases: { width: number; want: string }[] = [
    { width: 80, want: 'in 44.3 Mbit/s   out 53 kbit/s   peak 44 Mbit/s   total 24 MB   failed 0' },
    { width: 70, want: 'in 44.3 Mbit/s  out 53 kbit/s  peak 44 Mbit/s  total 24 MB  failed 0' },
    { width: 67, want: 'in 44.3 Mbit/s   out 53 kbit/s   peak 44 Mbit/s   total 24 MB' },
    { width: 60, want: 'in 44.3 Mbit/s  out 53 kbit/s  peak 44 Mbit/s  total 24 MB' },
    { width: 45, want: 'in 44.3 Mbit/s  out 53 kbit/s  peak 44 Mbit/s' },
    { width: 30, want: 'in 44.3 Mbit/s   out 53 kbit/s' },
    { width: 20, want: 'in 44.3 Mbit/s out 53 kbit/s' },
  ];
  for (const c of cases) it(`at ${c.width}`, () => assert.equal(fitParts(parts, c.width).map((s) => s.text).join(''), c.want));
});
