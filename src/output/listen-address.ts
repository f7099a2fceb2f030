/**
 * Where the metrics server listens, from --metrics' text. Loopback unless an address is named:
 * an exporter reachable from the whole network must be asked for (`0.0.0.0:9464`), never a default.
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  /** An IP address or a host name, as given; IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_METRICS_HOST = '127.0.0.1';
/** The port OpenTelemetry's Prometheus exporter uses; free on most hosts. */
export const DEFAULT_METRICS_PORT = 9464;

export type ParsedListen = { readonly ok: true; readonly address: ListenAddress } | { readonly ok: false; readonly error: string };

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * '' → 127.0.0.1:9464; 'PORT' or ':PORT' → 127.0.0.1:PORT; 'HOST:PORT'; '[IPv6]:PORT'; a bare
 * IPv4 address or host name → HOST:9464; a bare IPv6 address (two colons or more) → [IPv6]:9464.
 */
export function parseListenAddress(raw: string): ParsedListen {
  const text = raw.trim();
  const bad = (why: string): ParsedListen => ({ ok: false, error: `'${raw}' ${why}: use ADDR:PORT, e.g. 127.0.0.1:9464 or [::1]:9464` });
  const ok = (host: string, p: number | undefined): ParsedListen =>
    p === undefined ? bad('has no valid port (1-65535)') : { ok: true, address: { host, port: p } };

  if (text === '') return ok(DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT);
  if (/^:?\d+$/.test(text)) return ok(DEFAULT_METRICS_HOST, port(text.replace(/^:/, '')));
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) return bad('has no IPv6 address in its brackets');
    return ok(bracketed[1]!, bracketed[2] === undefined ? DEFAULT_METRICS_PORT : port(bracketed[2]));
  }
  if (isIP(text) === 6) return ok(text, DEFAULT_METRICS_PORT);
  const colon = text.lastIndexOf(':');
  if (text.indexOf(':') !== colon) return bad('looks like an IPv6 address with a port but without brackets');
  const host = colon < 0 ? text : text.slice(0, colon);
  if (!/^[A-Za-z0-9.-]+$/.test(host)) return bad('has no valid host');
  return ok(host, colon < 0 ? DEFAULT_METRICS_PORT : port(text.slice(colon + 1)));
}

/** host:port for messages and URLs, IPv6 in brackets. */
export function formatListenAddress(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
