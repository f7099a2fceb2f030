/**
 * The IPFIX encoder, read back by a small decoder written from RFC 7011 (not from the encoder):
 * headers, templates, records of every template, the 1400-byte limit and the sequence numbers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { END_REASON, IE, IpfixEncoder, TEMPLATES, templateOf, type IpfixRecord } from '../src/output/ipfix-encoder.js';

interface Decoded {
  version: number;
  length: number;
  exportTime: number;
  sequence: number;
  domain: number;
  templates: Map<number, [id: number, length: number][]>;
  /** Per data set: its template id and its records as element id -> value (bigint or bytes). */
  sets: { id: number; records: Map<number, bigint | Buffer>[] }[];
}

/** Decodes one message; data sets need the templates (from this message or `known`). */
function decode(buf: Buffer, known = new Map<number, [number, number][]>()): Decoded {
  const d: Decoded = {
    version: buf.readUInt16BE(0),
    length: buf.readUInt16BE(2),
    exportTime: buf.readUInt32BE(4),
    sequence: buf.readUInt32BE(8),
    domain: buf.readUInt32BE(12),
    templates: new Map(),
    sets: [],
  };
  assert.equal(d.length, buf.length, 'message length field');
  let at = 16;
  while (at < buf.length) {
    const setId = buf.readUInt16BE(at);
    const setLen = buf.readUInt16BE(at + 2);
    assert.ok(setLen >= 4 && at + setLen <= buf.length, `set length ${setLen} at ${at}`);
    const end = at + setLen;
    let p = at + 4;
    if (setId === 2) {
      while (p + 4 <= end) {
        const id = buf.readUInt16BE(p);
        const count = buf.readUInt16BE(p + 2);
        p += 4;
        const fields: [number, number][] = [];
        for (let k = 0; k < count; k++, p += 4) {
          const ie = buf.readUInt16BE(p);
          assert.equal(ie & 0x8000, 0, 'no enterprise elements yet');
          fields.push([ie, buf.readUInt16BE(p + 2)]);
        }
        d.templates.set(id, fields);
        known.set(id, fields);
      }
    } else {
      assert.ok(setId >= 256, `data set id ${setId}`);
      const fields = known.get(setId);
      assert.ok(fields, `template ${setId} known`);
      const size = fields.reduce((n, [, l]) => n + l, 0);
      const records: Map<number, bigint | Buffer>[] = [];
      while (p + size <= end) {
        const r = new Map<number, bigint | Buffer>();
        for (const [ie, l] of fields) {
          const bytes = buf.subarray(p, p + l);
          r.set(ie, ie === 8 || ie === 12 || ie === 27 || ie === 28 ? Buffer.from(bytes) : BigInt('0x' + bytes.toString('hex')));
          p += l;
        }
        records.push(r);
      }
      assert.equal(end - p, 0, 'no padding');
      d.sets.push({ id: setId, records });
    }
    at = end;
  }
  return d;
}

function record(over: Partial<IpfixRecord> = {}): IpfixRecord {
  return {
    startMs: 1_700_000_000_123,
    endMs: 1_700_000_004_567,
    packets: 10,
    bytes: 1234,
    family: 4,
    src: Uint8Array.of(10, 0, 0, 1),
    dst: Uint8Array.of(10, 0, 0, 2),
    proto: 6,
    sport: 40000,
    dport: 443,
    tcpFlags: 0x1b,
    direction: 0,
    ifindex: 7,
    endReason: END_REASON.idleTimeout,
    ...over,
  };
}

const V6A = Uint8Array.from(Buffer.from('fd000200000000000000000000000001', 'hex'));
const V6B = Uint8Array.from(Buffer.from('fd000200000000000000000000000002', 'hex'));

describe('IPFIX encoder', () => {
  it('sends eight templates in one message: family x ports/ICMP x ingress/egress', () => {
    const e = new IpfixEncoder({ domainId: 42 });
    const d = decode(e.templates(1_700_000_000.9));
    assert.deepEqual([d.version, d.exportTime, d.sequence, d.domain], [10, 1_700_000_000, 0, 42]);
    assert.deepEqual([...d.templates.keys()], [256, 257, 258, 259, 260, 261, 262, 263]);
    const ids = (t: number) => d.templates.get(t)!.map(([id]) => id);
    // IPv4 ports ingress: the fields the issue lists, in order.
    assert.deepEqual(ids(256), [152, 153, 2, 1, 8, 12, 7, 11, 6, 4, 61, 10, 136]);
    // IPv6 ICMP egress: addresses 27/28, type/code (combined and apart), egressInterface.
    assert.deepEqual(ids(263), [152, 153, 2, 1, 27, 28, 139, 178, 179, 4, 61, 14, 136]);
    for (const t of TEMPLATES) assert.equal(d.templates.get(t.id)!.reduce((n, [, l]) => n + l, 0), t.recordLength);
  });

  const cases: { name: string; r: IpfixRecord; template: number; expect: Record<number, bigint | Buffer> }[] = [
    {
      name: 'IPv4 TCP at ingress',
      r: record(),
      template: 256,
      expect: { 152: 1_700_000_000_123n, 153: 1_700_000_004_567n, 2: 10n, 1: 1234n, 8: Buffer.from([10, 0, 0, 1]), 12: Buffer.from([10, 0, 0, 2]), 7: 40000n, 11: 443n, 6: 0x1bn, 4: 6n, 61: 0n, 10: 7n, 136: 1n },
    },
    {
      name: 'IPv6 UDP at egress (no TCP flags)',
      r: record({ family: 6, src: V6A, dst: V6B, proto: 17, sport: 5353, dport: 53, tcpFlags: 0x12, direction: 1, endReason: END_REASON.activeTimeout }),
      template: 261,
      expect: { 27: Buffer.from(V6A), 28: Buffer.from(V6B), 7: 5353n, 11: 53n, 6: 0n, 4: 17n, 61: 1n, 14: 7n, 136: 2n },
    },
    {
      name: 'ICMP echo request: type 8 code 0',
      r: record({ proto: 1, sport: 0, dport: 8 * 256, tcpFlags: 0, endReason: END_REASON.forcedEnd }),
      template: 258,
      expect: { 32: 0x0800n, 176: 8n, 177: 0n, 4: 1n, 10: 7n, 136: 4n },
    },
    {
      name: 'ICMPv6 destination unreachable, port: type 1 code 4, at egress',
      r: record({ family: 6, src: V6A, dst: V6B, proto: 58, sport: 0, dport: 1 * 256 + 4, direction: 1, endReason: END_REASON.lackOfResources }),
      template: 263,
      expect: { 139: 0x0104n, 178: 1n, 179: 4n, 4: 58n, 61: 1n, 14: 7n, 136: 5n },
    },
    {
      name: 'counts beyond 32 bits',
      r: record({ packets: 2 ** 40 + 5, bytes: 2 ** 52 + 3 }),
      template: 256,
      expect: { 2: 2n ** 40n + 5n, 1: 2n ** 52n + 3n },
    },
  ];
  for (const c of cases) {
    it(`encodes ${c.name}`, () => {
      const e = new IpfixEncoder({ domainId: 1 });
      const known = new Map<number, [number, number][]>();
      decode(e.templates(0), known);
      assert.equal(templateOf(c.r).id, c.template);
      const msgs = e.data([c.r], 1_700_000_005);
      assert.equal(msgs.length, 1);
      assert.equal(msgs[0]!.records, 1);
      const d = decode(msgs[0]!.bytes, known);
      assert.equal(d.sets.length, 1);
      assert.equal(d.sets[0]!.id, c.template);
      const got = d.sets[0]!.records[0]!;
      for (const [ie, value] of Object.entries(c.expect)) assert.deepEqual(got.get(Number(ie)), value, `element ${ie}`);
    });
  }

  it('keeps every message within 1400 bytes, and numbers them by the records sent before', () => {
    const e = new IpfixEncoder({ domainId: 3 });
    const known = new Map<number, [number, number][]>();
    decode(e.templates(0), known);
    const records: IpfixRecord[] = [];
    for (let i = 0; i < 500; i++) {
      records.push(i % 3 === 0 ? record({ family: 6, src: V6A, dst: V6B, sport: i }) : i % 3 === 1 ? record({ proto: 1, dport: 0x0800 }) : record({ direction: 1, sport: i }));
    }
    const first = e.data(records, 1);
    const second = e.data(records.slice(0, 7), 2);
    let expected = 0;
    for (const m of [...first, ...second]) {
      assert.ok(m.bytes.length <= 1400, `${m.bytes.length} bytes`);
      const d = decode(m.bytes, known);
      assert.equal(d.sequence, expected);
      const n = d.sets.reduce((k, s) => k + s.records.length, 0);
      assert.equal(n, m.records);
      expected += n;
    }
    assert.equal(expected, 507);
    assert.equal(e.recordsSent, 507);
    // Full: another record of the biggest kind would not have fitted.
    const big = Math.max(...TEMPLATES.map((t) => t.recordLength));
    for (const m of first.slice(0, -1)) assert.ok(m.bytes.length + big + 4 > 1400, `a message of ${m.bytes.length} bytes left room`);
    // Every non-ICMP record's source port came through once (neither lost nor doubled).
    const ports = first.flatMap((m) => decode(m.bytes, known).sets.flatMap((s) => s.records.map((r) => r.get(7)))).filter((p) => p !== undefined);
    const sent = records.filter((r) => r.proto !== 1).map((r) => BigInt(r.sport));
    assert.deepEqual([...ports].sort(), [...sent].sort());
  });

  it('gives no message for no records, and wraps the sequence number at 2^32', () => {
    const e = new IpfixEncoder({ domainId: 0, maxMessage: 120 });
    assert.deepEqual(e.data([], 0), []);
    (e as unknown as { sequence: number }).sequence = 2 ** 32 - 1;
    const [a, b] = e.data([record(), record(), record()], 0);
    assert.equal(a!.bytes.readUInt32BE(8), 2 ** 32 - 1);
    assert.equal(b!.bytes.readUInt32BE(8), (2 ** 32 - 1 + a!.records) % 2 ** 32);
  });

  it('refuses a message size that holds no record', () => {
    assert.throws(() => new IpfixEncoder({ domainId: 0, maxMessage: 60 }), /holds no record/);
  });

  it('sizes its elements as IANA types them', () => {
    assert.equal(IE.packetDeltaCount.length, 8);
    assert.equal(IE.flowStartMilliseconds.length, 8);
    assert.equal(IE.tcpControlBits.length, 2);
    assert.equal(IE.ingressInterface.length, 4);
  });
});
