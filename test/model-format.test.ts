import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEndpoint, hasPorts, icmpTypeCode, protoName, protoNumber, tcpFlagsString } from '../src/model/index.js';

describe('protoName / protoNumber', () => {
  const names: [number, string][] = [
    [1, 'icmp'],
    [6, 'tcp'],
    [17, 'udp'],
    [58, 'icmpv6'],
    [132, 'sctp'],
    [136, 'udplite'],
    [47, '47'],
    [0, '0'],
    [255, '255'],
  ];
  for (const [num, name] of names) {
    it(`${num} <-> ${name}`, () => {
      assert.equal(protoName(num), name);
      assert.equal(protoNumber(name), num);
    });
  }

  const inputs: [string, number | undefined][] = [
    ['TCP', 6],
    [' udp ', 17],
    ['icmp6', 58],
    ['256', undefined],
    ['-1', undefined],
    ['1e2', undefined],
    ['0x6', undefined],
    ['gre', undefined],
    ['', undefined],
  ];
  for (const [text, want] of inputs) {
    it(`protoNumber(${JSON.stringify(text)}) = ${want}`, () => assert.equal(protoNumber(text), want));
  }

  it('hasPorts only for tcp, udp, sctp, udplite', () => {
    assert.deepEqual([1, 6, 17, 47, 58, 132, 136].filter(hasPorts), [6, 17, 132, 136]);
  });
});

describe('tcpFlagsString', () => {
  const cases: [number, string][] = [
    [0, ''],
    [0x01, 'F'],
    [0x02, 'S'],
    [0x12, 'SA'],
    [0x18, 'PA'],
    [0x11, 'FA'],
    [0x04, 'R'],
    [0xc2, 'SEC'],
    [0xff, 'FSRPAUEC'],
    [0x1ff, 'FSRPAUEC'],
  ];
  for (const [flags, want] of cases) {
    it(`0x${flags.toString(16)} -> '${want}'`, () => assert.equal(tcpFlagsString(flags), want));
  }
});

describe('formatEndpoint', () => {
  const cases: [string, number, 4 | 6, boolean, string][] = [
    ['10.0.0.1', 443, 4, true, '10.0.0.1:443'],
    ['10.0.0.1', 443, 4, false, '10.0.0.1'],
    ['2001:db8::1', 443, 6, true, '[2001:db8::1]:443'],
    ['2001:db8::1', 443, 6, false, '2001:db8::1'],
    ['::', 0, 6, true, '[::]:0'],
  ];
  for (const [addr, port, family, showPort, want] of cases) {
    it(want, () => assert.equal(formatEndpoint(addr, port, family, showPort), want));
  }
});

describe('icmpTypeCode', () => {
  const cases: [number, number, number][] = [
    [0x0800, 8, 0], // echo request
    [0x0000, 0, 0], // echo reply
    [0x0303, 3, 3], // port unreachable
    [0x8000, 128, 0], // ICMPv6 echo request
    [0xffff, 255, 255],
  ];
  for (const [dport, type, code] of cases) {
    it(`${dport} -> ${type}/${code}`, () => assert.deepEqual(icmpTypeCode(dport), { type, code }));
  }
});
