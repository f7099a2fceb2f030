/**
 * One text per address: the kernel collector's records (KernelFlowSet.record, over raw key bytes)
 * and the model's formatter (formatAddress, used for filters) print the same RFC 5952 text for the
 * same bytes, and that text parses back to those bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KernelFlowSet, decodeValues } from '../src/collectors/kernel-flows.js';
import { FlowKey, FlowValue } from '../src/ffi/layout.js';
import { formatAddress, parseAddress } from '../src/model/index.js';
import { prng } from './helpers/model-fixtures.js';

/** Address bytes (hex, 8 or 32 digits) and their RFC 5952 text. */
const cases: [hex: string, text: string][] = [
  ['0a000001', '10.0.0.1'],
  ['ffffffff', '255.255.255.255'],
  ['20010db8000000000000000000000001', '2001:db8::1'],
  ['00000000000000000000000000000000', '::'],
  ['00000000000000000000000000000001', '::1'],
  ['00010000000000000000000000000000', '1::'],
  ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
  ['20010db8000100000001000100010001', '2001:db8:1:0:1:1:1:1'],
  ['20010000000000010000000000000001', '2001:0:0:1::1'], // the longest run
  ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // the first of equal runs
  ['fe80000000000000000000000000abcd', 'fe80::abcd'], // lower case, no leading zeros
  ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'], // IPv4-mapped: dotted tail
  ['00000000000000000000ffff00000001', '::ffff:0.0.0.1'],
  ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
  ['0000000000000000ffff000000000001', '::ffff:0:0:1'], // ffff in the wrong group: not mapped
  ['00000000000000000001ffffc0000201', '::1:ffff:c000:201'],
  ['000000000000000000000000c0000201', '::c000:201'], // IPv4-compatible (deprecated): hex
  ['fe800000000000000000ffffc0000201', 'fe80::ffff:c000:201'],
  ['ffffffffffffffffffffffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
];

const bytesOf = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

/** A kernel read with one flow per address, as its src and dst. */
function kernelSet(addresses: readonly Uint8Array[]): KernelFlowSet {
  const n = addresses.length;
  const keys = Buffer.alloc(n * FlowKey.size);
  addresses.forEach((a, i) => {
    const o = i * FlowKey.size;
    keys[o + FlowKey.family] = a.length === 16 ? 6 : 4;
    keys[o + FlowKey.proto] = 17;
    keys.writeUInt16LE(i, o + FlowKey.sport); // keys distinct whatever the addresses
    keys.set(a, o + FlowKey.src);
    keys.set(a, o + FlowKey.dst);
  });
  return new KernelFlowSet(keys, decodeValues(Buffer.alloc(n * FlowValue.size), n, 1, FlowValue.size), () => 'eth0');
}

describe('address text: the collector and the model agree (RFC 5952)', () => {
  const set = kernelSet(cases.map(([hex]) => bytesOf(hex)));
  cases.forEach(([hex, text], i) => {
    it(`${hex} -> ${text}`, () => {
      const bytes = bytesOf(hex);
      const family = bytes.length === 16 ? 6 : 4;
      assert.equal(formatAddress({ family, bytes }), text, 'the model');
      assert.deepEqual([set.record(i).src, set.record(i).dst], [text, text], 'the collector');
      assert.deepEqual(parseAddress(text), { family, bytes }, 'and back');
    });
  });

  it('for seeded random IPv6 addresses, mostly zero groups and mapped ones', () => {
    const random = prng(5952);
    const addresses = Array.from({ length: 4000 }, () => {
      const b = new Uint8Array(16);
      const mapped = random() < 0.2;
      for (let g = 0; g < 8; g++) {
        const r = random();
        const word = mapped && g < 6 ? (g === 5 ? 0xffff : 0) : r < 0.55 ? 0 : r < 0.7 ? 0xffff : r < 0.8 ? 1 : Math.floor(random() * 0x10000);
        b[2 * g] = word >> 8;
        b[2 * g + 1] = word & 0xff;
      }
      return b;
    });
    const random6 = kernelSet(addresses);
    addresses.forEach((bytes, i) => {
      const text = formatAddress({ family: 6, bytes });
      assert.equal(random6.record(i).src, text, Buffer.from(bytes).toString('hex'));
      assert.equal(random6.record(i).dst, text);
      assert.deepEqual(parseAddress(text)?.bytes, bytes, text);
    });
  });
});
