/**
 * --ipfix: flow records to an IPFIX collector over UDP, as one more consumer of the run loop's
 * ticks. Templates go at start and again every --ipfix-template-refresh seconds (RFC 7011 8.4: over
 * UDP a collector that restarted learns them only then); a collector that does not answer never
 * stops tc-top: failed sends are counted, shown by the views, and the run goes on.
 *
 * finish() sends every flow's last record (flowEndReason forced end) and waits, for a bounded time,
 * until the socket has handed every message to the kernel: the caller runs it before the process
 * ends (q, a signal, the end of --count).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { TickConsumer } from '../app/run-loop.js';
import { parseIPv4, parseIPv6 } from '../model/address.js';
import type { ExportStatus, Tick } from '../model/types.js';
import { IpfixEncoder, type IpfixRecord } from './ipfix-encoder.js';
import { FlowExportState, type FlowExport } from './ipfix-flows.js';

/** The IANA port for IPFIX over UDP. */
export const IPFIX_PORT = 4739;

export interface CollectorAddress {
  /** An IPv4 or IPv6 address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
}

export type ParsedCollector = { readonly ok: true; readonly address: CollectorAddress } | { readonly ok: false; readonly error: string };

/** 'IPv4:PORT' or '[IPv6]:PORT'. An address, not a name: nothing to resolve, nothing to go stale. */
export function parseCollectorAddress(raw: string): ParsedCollector {
  const text = raw.trim();
  const bad = (why: string): ParsedCollector => ({ ok: false, error: `'${raw}' ${why}: use ADDR:PORT with an IP address, e.g. 192.0.2.10:${IPFIX_PORT} or [2001:db8::10]:${IPFIX_PORT}` });
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    if (isIP(host) !== 6) return bad('has no IPv6 address in its brackets');
    if (bracketed[2] === undefined) return bad('has no port');
    portText = bracketed[2];
  } else {
    if (isIP(text) === 6) return bad('has no port (an IPv6 address goes in brackets before it)');
    const colon = text.lastIndexOf(':');
    if (colon < 0) return bad(isIP(text) === 4 ? 'has no port' : 'is not ADDR:PORT');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (isIP(host) !== 4) return bad(host.includes(':') ? 'looks like an IPv6 address without brackets' : 'has no IP address (a host name is not taken)');
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return bad(`has a port out of range ('${portText}', 1-65535)`);
  return { ok: true, address: { host, port } };
}

export function formatCollectorAddress(a: CollectorAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export interface IpfixOptions {
  readonly collector: CollectorAddress;
  /** A flow that stays gets a record every this many seconds (--ipfix-active-timeout). */
  readonly activeTimeoutS: number;
  /** --ipfix-domain */
  readonly domainId: number;
  /** Templates are sent again every this many seconds (--ipfix-template-refresh). */
  readonly templateRefreshS: number;
  /** Wall clock in ms (tests). */
  readonly now?: () => number;
}

export interface IpfixExporter {
  /** Subscribe this to the run loop. */
  readonly consumer: TickConsumer;
  status(): ExportStatus;
  /** The last records of every flow, sent; resolves once they are with the kernel, or after timeoutMs. */
  finish(timeoutMs: number): Promise<void>;
  close(): void;
}

/** The encoder's record of an export. */
export function ipfixRecordOf(e: FlowExport): IpfixRecord {
  const f = e.flow;
  const parse = f.family === 6 ? parseIPv6 : parseIPv4;
  const size = f.family === 6 ? 16 : 4;
  return {
    startMs: e.startMs,
    endMs: e.endMs,
    packets: e.packets,
    bytes: e.bytes,
    family: f.family,
    src: parse(f.src) ?? new Uint8Array(size),
    dst: parse(f.dst) ?? new Uint8Array(size),
    proto: f.proto,
    sport: f.sport,
    dport: f.dport,
    tcpFlags: f.tcpFlags,
    direction: f.dir === 'egress' ? 1 : 0,
    ifindex: f.ifindex,
    endReason: e.endReason,
  };
}

/** Opens the socket (the collector's family) and sends the templates. */
export async function startIpfixExporter(o: IpfixOptions): Promise<IpfixExporter> {
  const now = o.now ?? Date.now;
  const { host, port } = o.collector;
  const socket: Socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  const collector = formatCollectorAddress(o.collector);
  const encoder = new IpfixEncoder({ domainId: o.domainId });
  const flows = new FlowExportState(o.activeTimeoutS * 1e9);
  let records = 0;
  let messages = 0;
  let sendErrors = 0;
  let lastError: string | undefined;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let lastTemplatesMs = -Infinity;
  let finished = false;

  const failed = (err: NodeJS.ErrnoException): void => {
    sendErrors++;
    lastError = err.code ?? err.message;
  };
  // A connected socket hears of an unreachable collector (ICMP) as an error on a later send, or here.
  socket.on('error', failed);
  // Connected, a send reports the collector's ICMP port unreachable (ECONNREFUSED): counted. When
  // connect itself fails (no route), each send goes to the address and fails on its own.
  const connected = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.connect(port, host, () => resolve(true));
  });
  socket.unref();

  const send = (buf: Buffer, count: number): void => {
    inFlight++;
    const done = (err: Error | null): void => {
      inFlight--;
      if (err) failed(err as NodeJS.ErrnoException);
      else {
        records += count;
        messages++;
      }
      if (inFlight === 0) drained?.();
    };
    try {
      if (connected) socket.send(buf, done);
      else socket.send(buf, port, host, done);
    } catch (err) {
      done(err as Error);
    }
  };

  const sendTemplates = (wallMs: number): void => {
    lastTemplatesMs = wallMs;
    send(encoder.templates(wallMs / 1000), 0);
  };

  const export_ = (list: readonly FlowExport[]): void => {
    const wallMs = now();
    if (wallMs - lastTemplatesMs >= o.templateRefreshS * 1000) sendTemplates(wallMs);
    if (list.length === 0) return;
    for (const m of encoder.data(list.map(ipfixRecordOf), wallMs / 1000)) send(m.bytes, m.records);
  };

  sendTemplates(now());

  const consumer: TickConsumer = {
    baseline: (tick: Tick) => flows.baseline(tick),
    tick: (tick: Tick) => {
      if (!finished) export_(flows.tick(tick));
    },
  };

  return {
    consumer,
    status: () => ({ kind: 'ipfix', collector, records, messages, sendErrors, lastError }),
    async finish(timeoutMs) {
      if (!finished) {
        finished = true;
        export_(flows.end());
      }
      if (inFlight === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        drained = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    },
    close() {
      try {
        socket.close();
      } catch {
        /* already closed */
      }
    },
  };
}
