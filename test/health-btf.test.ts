/**
 * The minimal BTF reader (src/collectors/btf.ts): drop reason names and tracepoint arguments, from
 * a BTF blob built here type by type (every kind whose data must be skipped), and from the running
 * kernel's own /sys/kernel/btf/vmlinux.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Btf, BtfFormatError, VMLINUX_BTF, dropReasonNames } from '../src/collectors/btf.js';
import { IN_CI } from './helpers/netns.js';

/** A little-endian BTF blob: types as [kind, vlen, nameOff, sizeOrType, extra words], and the strings. */
function blob(types: readonly (readonly [kind: number, vlen: number, name: string, sizeOrType: number, extra: readonly number[]])[], names: readonly string[]): Buffer {
  const strs = ['', ...names];
  const offset = new Map<string, number>();
  let at = 0;
  for (const s of strs) {
    offset.set(s, at);
    at += Buffer.byteLength(s) + 1;
  }
  const strBuf = Buffer.concat(strs.map((s) => Buffer.from(`${s}\0`, 'latin1')));
  const words: number[] = [];
  for (const [kind, vlen, name, sizeOrType, extra] of types) {
    words.push(offset.get(name) ?? 0, ((kind << 24) | vlen) >>> 0, sizeOrType, ...extra.map((w) => (typeof w === 'string' ? (offset.get(w) ?? 0) : w)));
  }
  const typeBuf = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => typeBuf.writeUInt32LE(w >>> 0, i * 4));
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0);
  hdr[2] = 1;
  hdr.writeUInt32LE(24, 4);
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(typeBuf.length, 12);
  hdr.writeUInt32LE(typeBuf.length, 16);
  hdr.writeUInt32LE(strBuf.length, 20);
  return Buffer.concat([hdr, typeBuf, strBuf]);
}

const NAMES = ['int', 'skb_drop_reason', 'SKB_NOT_DROPPED_YET', 'SKB_CONSUMED', 'SKB_DROP_REASON_NOT_SPECIFIED', 'SKB_DROP_REASON_NO_SOCKET', 'SKB_DROP_REASON_NETFILTER_DROP', 'sk_buff', 'len', 'btf_trace_kfree_skb', 'wide', 'W_BIG', 'arr'];
/** Strings by name, so that enum and member names resolve (blob() maps a string extra word to its offset). */
const s = (name: string) => name as unknown as number;

const SAMPLE = blob(
  [
    [1, 0, 'int', 4, [0x01000020]], // 1: INT (4 bytes of data)
    [4, 1, 'sk_buff', 8, [s('len'), 1, 0]], // 2: STRUCT, one member (12 bytes)
    [3, 0, 'arr', 0, [1, 1, 4]], // 3: ARRAY (12 bytes)
    [6, 5, 'skb_drop_reason', 4, [s('SKB_NOT_DROPPED_YET'), 0, s('SKB_CONSUMED'), 1, s('SKB_DROP_REASON_NOT_SPECIFIED'), 2, s('SKB_DROP_REASON_NO_SOCKET'), 3, s('SKB_DROP_REASON_NETFILTER_DROP'), 12]], // 4: ENUM
    [13, 4, '', 0, [0, 5, 0, 6, 0, 4, 0, 6]], // 5: FUNC_PROTO (data, skb, location, reason): 4 params
    [2, 0, '', 5, []], // 6: PTR to it
    [8, 0, 'btf_trace_kfree_skb', 6, []], // 7: TYPEDEF
    [19, 1, 'wide', 8, [s('W_BIG'), 1, 1]], // 8: ENUM64 (low word, high word): 2^32 + 1
  ],
  NAMES,
);

describe('the BTF reader', () => {
  it("reads an enum's names by value, across every kind of type before it", () => {
    const btf = new Btf(SAMPLE);
    assert.deepEqual([...btf.enumValues('skb_drop_reason')!], [
      [0, 'SKB_NOT_DROPPED_YET'],
      [1, 'SKB_CONSUMED'],
      [2, 'SKB_DROP_REASON_NOT_SPECIFIED'],
      [3, 'SKB_DROP_REASON_NO_SOCKET'],
      [12, 'SKB_DROP_REASON_NETFILTER_DROP'],
    ]);
    assert.deepEqual([...btf.enumValues('wide')!], [[2 ** 32 + 1, 'W_BIG']], '64-bit enums too');
    assert.equal(btf.enumValues('nope'), undefined);
  });

  it('names drop reasons without their prefix', () => {
    const names = dropReasonNames(new Btf(SAMPLE));
    assert.equal(names.get(12), 'NETFILTER_DROP');
    assert.equal(names.get(3), 'NO_SOCKET');
    assert.equal(names.get(1), 'CONSUMED');
  });

  it("counts a BTF tracepoint's arguments (its function's parameters but the first)", () => {
    const btf = new Btf(SAMPLE);
    assert.equal(btf.tracepointArgs('kfree_skb'), 3);
    assert.equal(btf.tracepointArgs('tcp_probe'), undefined);
  });

  it('refuses what is not BTF', () => {
    assert.throws(() => new Btf(Buffer.alloc(64)), BtfFormatError);
    const short = Buffer.from(SAMPLE);
    short.writeUInt32LE(1 << 20, 12);
    assert.throws(() => new Btf(short), /run past the end/);
  });

  const real = existsSync(VMLINUX_BTF);
  it("reads the running kernel's drop reasons and tracepoints", { skip: real || IN_CI ? undefined : 'no /sys/kernel/btf/vmlinux' }, () => {
    const btf = Btf.fromFile();
    const names = dropReasonNames(btf);
    for (const want of ['NETFILTER_DROP', 'NO_SOCKET', 'SOCKET_RCVBUFF', 'NOT_SPECIFIED']) {
      assert.ok([...names.values()].includes(want), `${want} is a reason of this kernel`);
    }
    assert.ok((btf.tracepointArgs('kfree_skb') ?? 0) >= 3, 'kfree_skb has (skb, location, reason, ...)');
    assert.ok([2, 3].includes(btf.tracepointArgs('tcp_retransmit_skb') ?? 0));
    assert.equal(btf.tracepointArgs('tcp_probe'), 2);
  });
});
