/** The capture reader on captures written by hand: formats, byte orders, time units, directions, and the errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CaptureError, CaptureReader, type ByteSource } from '../src/collectors/capture-file.js';
import { type CapFrame, pcap, pcapng } from './helpers/pcap.js';

/** A source that hands out at most `step` bytes a call, so records straddle refills. */
function source(bytes: Buffer, step = 7): ByteSource {
  let at = 0;
  return async (buf, off, len) => {
    const n = Math.min(len, step, bytes.length - at);
    bytes.copy(buf, off, at, at + n);
    at += n;
    return n;
  };
}

interface Got {
  readonly data: string;
  readonly timeNs: number;
  readonly origLen: number;
  readonly linkType: number;
  readonly dir: number;
}

async function readAll(bytes: Buffer, chunk = 64, step = 7): Promise<{ frames: Got[]; error?: string; format: string; firstWallMs?: number }> {
  const r = new CaptureReader(source(bytes, step), 'x.cap', chunk);
  await r.open();
  const frames: Got[] = [];
  try {
    for (;;) {
      while (r.next()) frames.push({ data: r.buf.toString('hex', r.offset, r.offset + r.capLen), timeNs: r.timeNs, origLen: r.origLen, linkType: r.linkType, dir: r.dir });
      if (!(await r.fill())) break;
    }
  } catch (err) {
    assert.ok(err instanceof CaptureError);
    return { frames, error: (err as Error).message, format: r.format };
  }
  return { frames, format: r.format, ...(r.firstWallMs !== undefined ? { firstWallMs: r.firstWallMs } : {}) };
}

const d = (n: number, len = 60) => Buffer.alloc(len, n);
const FRAMES: CapFrame[] = [
  { data: d(1), sec: 1_700_000_000, ns: 123_456_000 },
  { data: d(2, 100), sec: 1_700_000_000, ns: 999_999_000, origLen: 1500 },
  { data: d(3, 3000), sec: 1_700_000_002, ns: 5_000 },
];
const EXPECT = [
  { data: d(1).toString('hex'), timeNs: 0, origLen: 60 },
  { data: d(2, 100).toString('hex'), timeNs: 876_543_000, origLen: 1500 },
  { data: d(3, 3000).toString('hex'), timeNs: 1_876_549_000, origLen: 3000 },
];
const strip = (g: Got[]) => g.map(({ data, timeNs, origLen }) => ({ data, timeNs, origLen }));

describe('capture reader', () => {
  for (const [name, bytes] of [
    ['pcap, µs, little-endian', pcap(FRAMES)],
    ['pcap, µs, big-endian', pcap(FRAMES, { bigEndian: true })],
    ['pcap, ns', pcap(FRAMES, { nano: true })],
    ['pcapng, µs', pcapng(FRAMES)],
    ['pcapng, ns (if_tsresol 9)', pcapng(FRAMES, { interfaces: [{ tsresol: 9 }] })],
  ] as const) {
    it(`${name}: every frame, its bytes, original length and time from the first`, async () => {
      const got = await readAll(bytes);
      assert.equal(got.error, undefined);
      assert.deepEqual(strip(got.frames), EXPECT);
      assert.equal(got.firstWallMs, 1_700_000_000_123.456);
    });
  }

  it('keeps nanoseconds exact in a pcap-ns and a pcapng-ns capture', async () => {
    const f: CapFrame[] = [{ data: d(1), sec: 1_800_000_000, ns: 1 }, { data: d(2), sec: 1_800_000_001, ns: 3 }];
    for (const bytes of [pcap(f, { nano: true }), pcapng(f, { interfaces: [{ tsresol: 9 }] })]) {
      assert.deepEqual((await readAll(bytes)).frames.map((g) => g.timeNs), [0, 1_000_000_002]);
    }
  });

  it('pcapng: binary time resolution (2^-20 s) and the direction of epb_flags', async () => {
    const f: CapFrame[] = [{ data: d(1), sec: 100, dir: 1 }, { data: d(2), sec: 101, dir: 2 }, { data: d(3), sec: 102 }];
    const got = await readAll(pcapng(f, { interfaces: [{ tsresol: 0x80 | 20 }] }));
    assert.deepEqual(got.frames.map((g) => [g.timeNs, g.dir]), [[0, 1], [1e9, 2], [2e9, 0]]);
  });

  it('directed: pcapng and Linux cooked pcap may say which way a frame went, other pcap never (tc-top -r then loads no egress program)', async () => {
    const directed = async (bytes: Buffer) => {
      const r = new CaptureReader(source(bytes), 'x.cap');
      await r.open();
      return r.directed;
    };
    assert.equal(await directed(pcap(FRAMES)), false);
    assert.equal(await directed(pcap(FRAMES, { linkType: 101 })), false);
    assert.equal(await directed(pcap(FRAMES, { linkType: 113 })), true);
    assert.equal(await directed(pcap(FRAMES, { linkType: 276, bigEndian: true })), true);
    assert.equal(await directed(pcapng(FRAMES)), true);
  });

  it('pcapng: two interfaces of different link types, each frame with its own', async () => {
    const f: CapFrame[] = [{ data: d(1), sec: 10, iface: 0 }, { data: d(2), sec: 11, iface: 1 }];
    const got = await readAll(pcapng(f, { interfaces: [{ linkType: 1 }, { linkType: 113, tsresol: 9 }] }));
    assert.deepEqual(got.frames.map((g) => [g.linkType, g.timeNs]), [[1, 0], [113, 1e9]]);
  });

  it('pcapng: simple packet blocks (no time: the previous frame\'s)', async () => {
    const got = await readAll(pcapng([{ data: d(1, 61), sec: 5 }, { data: d(2, 62), sec: 6 }], { simple: true }));
    assert.deepEqual(got.frames.map((g) => [g.data.length / 2, g.timeNs]), [[61, 0], [62, 0]]);
  });

  it('grows its buffer for a record larger than a chunk', async () => {
    const got = await readAll(pcap([{ data: d(9, 5000), sec: 1 }]), 64, 1000);
    assert.equal(got.frames[0]?.data.length, 10000);
  });

  it('a file that is not a capture, an empty file: one line naming the problem', async () => {
    await assert.rejects(new CaptureReader(source(Buffer.from('hello world, not a capture')), 'x.txt').open(), /x\.txt is not a pcap or pcapng capture \(it begins with 68656c6c\)/);
    await assert.rejects(new CaptureReader(source(Buffer.alloc(0)), 'e.pcap').open(), /e\.pcap is not a pcap or pcapng capture \(it is empty\)/);
  });

  it('an unsupported link type: named, at the header (pcap) or at the first frame on it (pcapng)', async () => {
    await assert.rejects(new CaptureReader(source(pcap(FRAMES, { linkType: 127 })), 'w.pcap').open(), /w\.pcap: unsupported link type IEEE 802\.11 radiotap \(127\)/);
    const got = await readAll(pcapng([{ data: d(1), sec: 1 }, { data: d(2), sec: 2, iface: 1 }], { interfaces: [{}, { linkType: 105 }] }));
    assert.equal(got.frames.length, 1);
    assert.match(got.error!, /unsupported link type IEEE 802\.11 \(105\)/);
  });

  it('a truncated file: the whole frames first, then the error', async () => {
    for (const bytes of [pcap(FRAMES), pcapng(FRAMES)]) {
      const got = await readAll(bytes.subarray(0, bytes.length - 10));
      assert.deepEqual(strip(got.frames), EXPECT.slice(0, 2));
      assert.match(got.error!, /x\.cap is truncated: it ends inside a (record|block) \(\d+ bytes after frame 2\)/);
    }
  });

  it('a pcapng block whose lengths disagree is corrupt', async () => {
    const bytes = pcapng(FRAMES);
    bytes.writeUInt32LE(9999, bytes.length - 4);
    assert.match((await readAll(bytes)).error!, /corrupt: a pcapng block whose two lengths differ/);
  });
});
