/** Picking the interface of the default route from /proc/net/route and /proc/net/ipv6_route text. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRouteInterface } from '../src/collectors/interfaces.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const route = (...rows: string[]) => [HEADER, ...rows].join('\n') + '\n';

describe('defaultRouteInterface', () => {
  it('picks the IPv4 default route', () => {
    assert.equal(defaultRouteInterface(route('eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0', 'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0'), ''), 'eth0');
  });
  it('prefers the lowest metric among several default routes', () => {
    assert.equal(defaultRouteInterface(route('wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0', 'eth1\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0'), ''), 'eth1');
  });
  it('ignores routes that are down and non-default routes', () => {
    assert.equal(defaultRouteInterface(route('eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0', 'eth1\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0'), ''), undefined);
  });
  it('falls back to the IPv6 default route', () => {
    const v6 = `${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth6\n`;
    assert.equal(defaultRouteInterface(route(), v6), 'eth6');
  });
  it('finds nothing in a namespace without routes', () => {
    assert.equal(defaultRouteInterface(route(), ''), undefined);
  });
});
