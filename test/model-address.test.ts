import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addressSortKey,
  formatAddress,
  parseAddress,
  parseIPv4,
  parseIPv6,
  parsePrefix,
  prefixContains,
} from '../src/model/index.js';

const hex = (bytes: Uint8Array | undefined): string | undefined =>
  bytes && Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

describe('parseIPv4', () => {
  const cases: [string, string | undefined][] = [
    ['10.0.0.1', '0a000001'],
    ['0.0.0.0', '00000000'],
    ['255.255.255.255', 'ffffffff'],
    ['256.0.0.1', undefined],
    ['10.0.0', undefined],
    ['10.0.0.1.2', undefined],
    ['10.0.0.01', undefined],
    ['10.0.0.-1', undefined],
    ['10.0..1', undefined],
    [' 10.0.0.1', undefined],
    ['', undefined],
  ];
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => assert.equal(hex(parseIPv4(text)), want));
  }
});

describe('parseIPv6', () => {
  const cases: [string, string | undefined][] = [
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['2001:db8:0:0::1', '20010db8000000000000000000000001'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '20010db8000000000000000000000001'],
    ['2001:DB8::A', '20010db800000000000000000000000a'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['64:ff9b::10.0.0.1', '0064ff9b00000000000000000a000001'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:2:3:4:5:6:7', undefined],
    ['1:2:3:4:5:6:7:8::', undefined],
    ['1::2::3', undefined],
    [':::', undefined],
    [':1::2', undefined],
    ['1:', undefined],
    ['12345::', undefined],
    ['g::', undefined],
    ['fe80::1%eth0', undefined],
    ['::1.2.3', undefined],
    ['1:2:3:4:5:6:7:1.2.3.4', undefined],
    ['10.0.0.1', undefined],
    ['', undefined],
  ];
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => assert.equal(hex(parseIPv6(text)), want));
  }
});

describe('formatAddress (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
    ['FE80::ABCD', 'fe80::abcd'],
  ];
  for (const [text, want] of cases) {
    it(text, () => {
      const addr = parseAddress(text);
      assert.ok(addr);
      assert.equal(formatAddress(addr), want);
    });
  }
});

describe('parsePrefix / prefixContains', () => {
  const cases: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.255.1.2', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['0.0.0.0/0', '::1', false], // families never match each other
    ['192.0.2.1/32', '192.0.2.1', true],
    ['192.0.2.1/32', '192.0.2.0', false],
    ['192.0.2.0/25', '192.0.2.127', true],
    ['192.0.2.0/25', '192.0.2.128', false],
    ['10.1.2.3/8', '10.9.9.9', true], // host bits ignored
    ['::/0', '2001:db8::1', true],
    ['::/0', '10.0.0.1', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8:0:1::/64', '2001:db8:0:1:ffff:ffff:ffff:ffff', true],
    ['2001:db8:0:1::/64', '2001:db8:0:2::', false],
    ['2001:db8::1/128', '2001:db8:0:0:0:0:0:1', true],
    ['2001:db8::1/128', '2001:db8::2', false],
    ['2001:db8::/33', '2001:db8:7fff::', true],
    ['2001:db8::/33', '2001:db8:8000::', false],
  ];
  for (const [prefixText, addrText, want] of cases) {
    it(`${prefixText} ${want ? 'contains' : 'excludes'} ${addrText}`, () => {
      const prefix = parsePrefix(prefixText);
      const addr = parseAddress(addrText);
      assert.ok(prefix && addr);
      assert.equal(prefixContains(prefix, addr), want);
    });
  }

  const invalid = ['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/8/8', 'x/8', '/8', '10.0.0.0/1a'];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(parsePrefix(text), undefined));
  }
});

describe('addressSortKey', () => {
  it('orders numerically, IPv4 before IPv6, non-addresses last', () => {
    const input = ['zzz', '2001:db8::10', '10.0.0.10', '::1', '10.0.0.9', '9.255.255.255', '2001:db8::9'];
    const sorted = [...input].sort((a, b) => (addressSortKey(a) < addressSortKey(b) ? -1 : 1));
    assert.deepEqual(sorted, ['9.255.255.255', '10.0.0.9', '10.0.0.10', '::1', '2001:db8::9', '2001:db8::10', 'zzz']);
  });
});
