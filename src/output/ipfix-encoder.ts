/**
 * IPFIX (RFC 7011) messages of tc-top's flow records: templates, data sets, the message header with
 * its sequence number. Pure: buffers in, buffers out; the socket is ipfix-exporter.ts's.
 *
 * No npm package encodes IPFIX (those there are decode NetFlow), hence this small encoder. One
 * template per kind of record, so that every element a record carries means something for it:
 * IPv4 or IPv6 addresses, transport ports or ICMP type and code, ingressInterface for a flow counted
 * at ingress or egressInterface for one counted at egress. Eight templates, ids 256-263.
 *
 * Process owner (pid, comm) will be enterprise-specific elements of the same templates once the
 * collector knows a flow's process: ENTERPRISE_ID and the element numbers are reserved for it below.
 */

/** Information elements (IANA numbers), with the length tc-top sends each in. */
export const IE = {
  octetDeltaCount: { id: 1, length: 8 },
  packetDeltaCount: { id: 2, length: 8 },
  protocolIdentifier: { id: 4, length: 1 },
  tcpControlBits: { id: 6, length: 2 },
  sourceTransportPort: { id: 7, length: 2 },
  sourceIPv4Address: { id: 8, length: 4 },
  icmpTypeCodeIPv4: { id: 32, length: 2 },
  ingressInterface: { id: 10, length: 4 },
  destinationTransportPort: { id: 11, length: 2 },
  destinationIPv4Address: { id: 12, length: 4 },
  egressInterface: { id: 14, length: 4 },
  sourceIPv6Address: { id: 27, length: 16 },
  destinationIPv6Address: { id: 28, length: 16 },
  icmpTypeCodeIPv6: { id: 139, length: 2 },
  flowDirection: { id: 61, length: 1 },
  flowEndReason: { id: 136, length: 1 },
  flowStartMilliseconds: { id: 152, length: 8 },
  flowEndMilliseconds: { id: 153, length: 8 },
  icmpTypeIPv4: { id: 176, length: 1 },
  icmpCodeIPv4: { id: 177, length: 1 },
  icmpTypeIPv6: { id: 178, length: 1 },
  icmpCodeIPv6: { id: 179, length: 1 },
} as const;

export type ElementName = keyof typeof IE;

/**
 * Reserved for the process owner of a flow (not sent yet): processId (unsigned32) and processName
 * (string, the comm) as enterprise-specific elements 1 and 2, appended to every template, under an
 * enterprise number that tc-top does not have yet (choosing it is part of that work).
 */
export const PROCESS_ELEMENTS = { processId: 1, processName: 2 } as const;

/** flowEndReason values (RFC 5102 / IANA). */
export const END_REASON = {
  idleTimeout: 0x01,
  activeTimeout: 0x02,
  endOfFlow: 0x03,
  /** The metering process stopped: tc-top's end of run. */
  forcedEnd: 0x04,
  /** The flow left the kernel's full map (LRU eviction). */
  lackOfResources: 0x05,
} as const;

export const IPFIX_VERSION = 10;
const MESSAGE_HEADER = 16;
const SET_HEADER = 4;
const TEMPLATE_SET_ID = 2;
/** Messages stay within this many bytes: no IP fragmentation on a 1500-byte path (RFC 7011 10.3.3). */
export const DEFAULT_MAX_MESSAGE = 1400;

/** One flow record, as the encoder takes it. */
export interface IpfixRecord {
  readonly startMs: number;
  readonly endMs: number;
  readonly packets: number;
  readonly bytes: number;
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly proto: number;
  readonly sport: number;
  /** Destination port; for ICMP and ICMPv6, type * 256 + code (as tc-top's flows have it). */
  readonly dport: number;
  readonly tcpFlags: number;
  /** 0 ingress, 1 egress (flowDirection). */
  readonly direction: 0 | 1;
  readonly ifindex: number;
  readonly endReason: number;
}

export interface Template {
  readonly id: number;
  readonly elements: readonly ElementName[];
  /** Bytes of one record. */
  readonly recordLength: number;
}

export function isIcmp(proto: number): boolean {
  return proto === 1 || proto === 58;
}

function template(id: number, family: 4 | 6, icmp: boolean, egress: boolean): Template {
  const v6 = family === 6;
  const elements: ElementName[] = [
    'flowStartMilliseconds',
    'flowEndMilliseconds',
    'packetDeltaCount',
    'octetDeltaCount',
    v6 ? 'sourceIPv6Address' : 'sourceIPv4Address',
    v6 ? 'destinationIPv6Address' : 'destinationIPv4Address',
    ...(icmp
      ? ([v6 ? 'icmpTypeCodeIPv6' : 'icmpTypeCodeIPv4', v6 ? 'icmpTypeIPv6' : 'icmpTypeIPv4', v6 ? 'icmpCodeIPv6' : 'icmpCodeIPv4'] as const)
      : (['sourceTransportPort', 'destinationTransportPort', 'tcpControlBits'] as const)),
    'protocolIdentifier',
    'flowDirection',
    egress ? 'egressInterface' : 'ingressInterface',
    'flowEndReason',
  ];
  return { id, elements, recordLength: elements.reduce((n, e) => n + IE[e].length, 0) };
}

/** The eight templates: id 256 + 1 (IPv6) + 2 (ICMP) + 4 (egress). */
export const TEMPLATES: readonly Template[] = Array.from({ length: 8 }, (_, k) => template(256 + k, k & 1 ? 6 : 4, (k & 2) !== 0, (k & 4) !== 0));

export function templateOf(r: IpfixRecord): Template {
  return TEMPLATES[(r.family === 6 ? 1 : 0) + (isIcmp(r.proto) ? 2 : 0) + (r.direction === 1 ? 4 : 0)] as Template;
}

/** An unsigned 64-bit number (below 2^53) in network order. */
function writeU64(buf: Buffer, value: number, at: number): void {
  const v = Math.max(0, Math.floor(value));
  buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000) >>> 0, at);
  buf.writeUInt32BE(v >>> 0, at + 4);
}

function writeElement(buf: Buffer, at: number, name: ElementName, r: IpfixRecord): number {
  switch (name) {
    case 'flowStartMilliseconds':
      writeU64(buf, Math.round(r.startMs), at);
      break;
    case 'flowEndMilliseconds':
      writeU64(buf, Math.round(r.endMs), at);
      break;
    case 'packetDeltaCount':
      writeU64(buf, r.packets, at);
      break;
    case 'octetDeltaCount':
      writeU64(buf, r.bytes, at);
      break;
    case 'sourceIPv4Address':
    case 'sourceIPv6Address':
      buf.set(r.src, at);
      break;
    case 'destinationIPv4Address':
    case 'destinationIPv6Address':
      buf.set(r.dst, at);
      break;
    case 'sourceTransportPort':
      buf.writeUInt16BE(r.sport & 0xffff, at);
      break;
    case 'destinationTransportPort':
      buf.writeUInt16BE(r.dport & 0xffff, at);
      break;
    case 'tcpControlBits':
      buf.writeUInt16BE(r.proto === 6 ? r.tcpFlags & 0xff : 0, at);
      break;
    case 'icmpTypeCodeIPv4':
    case 'icmpTypeCodeIPv6':
      buf.writeUInt16BE(r.dport & 0xffff, at);
      break;
    case 'icmpTypeIPv4':
    case 'icmpTypeIPv6':
      buf.writeUInt8((r.dport >> 8) & 0xff, at);
      break;
    case 'icmpCodeIPv4':
    case 'icmpCodeIPv6':
      buf.writeUInt8(r.dport & 0xff, at);
      break;
    case 'protocolIdentifier':
      buf.writeUInt8(r.proto & 0xff, at);
      break;
    case 'flowDirection':
      buf.writeUInt8(r.direction, at);
      break;
    case 'ingressInterface':
    case 'egressInterface':
      buf.writeUInt32BE(r.ifindex >>> 0, at);
      break;
    case 'flowEndReason':
      buf.writeUInt8(r.endReason & 0xff, at);
      break;
  }
  return at + IE[name].length;
}

function writeHeader(buf: Buffer, length: number, exportTimeS: number, sequence: number, domainId: number): void {
  buf.writeUInt16BE(IPFIX_VERSION, 0);
  buf.writeUInt16BE(length, 2);
  buf.writeUInt32BE(Math.floor(exportTimeS) >>> 0, 4);
  buf.writeUInt32BE(sequence >>> 0, 8);
  buf.writeUInt32BE(domainId >>> 0, 12);
}

/** One message and the data records in it. */
export interface EncodedMessage {
  readonly bytes: Buffer;
  readonly records: number;
}

export interface EncoderOptions {
  /** Observation domain id (--ipfix-domain). */
  readonly domainId: number;
  readonly maxMessage?: number;
}

/**
 * Messages of one observation domain. The sequence number is the count of data records sent
 * before each message, modulo 2^32 (RFC 7011 3.1): a collector tells lost messages by it.
 */
export class IpfixEncoder {
  private sequence = 0;
  readonly maxMessage: number;

  constructor(private readonly o: EncoderOptions) {
    this.maxMessage = o.maxMessage ?? DEFAULT_MAX_MESSAGE;
    const biggest = Math.max(...TEMPLATES.map((t) => t.recordLength));
    if (this.maxMessage < MESSAGE_HEADER + SET_HEADER + biggest) throw new RangeError(`an IPFIX message of ${this.maxMessage} bytes holds no record`);
  }

  /** Data records sent so far (the next message's sequence number, before the modulo). */
  get recordsSent(): number {
    return this.sequence;
  }

  /** One message with every template (the templates fit in one). */
  templates(exportTimeS: number): Buffer {
    const length = MESSAGE_HEADER + SET_HEADER + TEMPLATES.reduce((n, t) => n + 4 + 4 * t.elements.length, 0);
    const buf = Buffer.alloc(length);
    writeHeader(buf, length, exportTimeS, this.sequence, this.o.domainId);
    buf.writeUInt16BE(TEMPLATE_SET_ID, MESSAGE_HEADER);
    buf.writeUInt16BE(length - MESSAGE_HEADER, MESSAGE_HEADER + 2);
    let at = MESSAGE_HEADER + SET_HEADER;
    for (const t of TEMPLATES) {
      buf.writeUInt16BE(t.id, at);
      buf.writeUInt16BE(t.elements.length, at + 2);
      at += 4;
      for (const e of t.elements) {
        buf.writeUInt16BE(IE[e].id, at);
        buf.writeUInt16BE(IE[e].length, at + 2);
        at += 4;
      }
    }
    return buf;
  }

  /** The records in as few messages as fit maxMessage, each record's template's set in turn. */
  data(records: readonly IpfixRecord[], exportTimeS: number): EncodedMessage[] {
    if (records.length === 0) return [];
    const byTemplate = new Map<Template, IpfixRecord[]>();
    for (const r of records) {
      const t = templateOf(r);
      const list = byTemplate.get(t);
      if (list) list.push(r);
      else byTemplate.set(t, [r]);
    }
    const messages: EncodedMessage[] = [];
    let buf = Buffer.alloc(this.maxMessage);
    let at = MESSAGE_HEADER;
    let inMessage = 0;
    let setStart = -1;
    const closeSet = (): void => {
      if (setStart >= 0) buf.writeUInt16BE(at - setStart, setStart + 2);
      setStart = -1;
    };
    const closeMessage = (): void => {
      closeSet();
      if (inMessage === 0) return;
      writeHeader(buf, at, exportTimeS, this.sequence, this.o.domainId);
      messages.push({ bytes: buf.subarray(0, at), records: inMessage });
      this.sequence += inMessage;
      buf = Buffer.alloc(this.maxMessage);
      at = MESSAGE_HEADER;
      inMessage = 0;
    };
    for (const [t, list] of byTemplate) {
      for (const r of list) {
        // A new set needs its header as well as the record.
        if (at + (setStart < 0 ? SET_HEADER : 0) + t.recordLength > this.maxMessage) closeMessage();
        if (setStart < 0) {
          setStart = at;
          buf.writeUInt16BE(t.id, at);
          at += SET_HEADER;
        }
        for (const e of t.elements) at = writeElement(buf, at, e, r);
        inMessage++;
      }
      closeSet();
    }
    closeMessage();
    return messages;
  }
}
