/** The command line: defaults, and one clear line for every argument that cannot run. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Options, UsageError, parseArgs } from '../bin/cli.js';

function opts(argv: string[], tty = false): Options {
  const r = parseArgs(argv, tty);
  assert.ok(!('exit' in r));
  return r;
}

describe('parseArgs', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(opts([]), {
      interfaces: [],
      hook: 'tc',
      xdpMode: 'auto',
      tcMode: 'auto',
      map: 'mmap',
      maxFlows: 65536,
      tcpStats: true,
      processes: true,
      intervalS: 1,
      count: undefined,
      sort: 'bps',
      reverse: false,
      window: 2,
      aggregate: 'flow',
      idleTimeoutS: 30,
      output: 'batch',
      filter: '',
      top: undefined,
      metrics: undefined,
      metricsTop: 50,
      ipfix: undefined,
      cleanup: false,
      dropPrivileges: true,
      demo: false,
      idleTimeoutGiven: false,
      read: undefined,
      followTime: false,
    });
  });

  it('turns the health hooks (RTT, retransmits, drops) off with --no-tcp-stats', () => {
    assert.equal(opts(['--no-tcp-stats']).tcpStats, false);
    assert.equal(opts(['--tcp-stats']).tcpStats, true);
  });

  it('takes -r FILE (and - for standard input) with --follow-time, --hook xdp and -n', () => {
    assert.deepEqual([opts(['-r', 'x.pcap']).read, opts(['-r', 'x.pcap']).followTime], ['x.pcap', false]);
    assert.equal(opts(['--read', '-']).read, '-');
    const o = opts(['-r', 'x.pcapng', '--follow-time', '-n', '3', '--hook', 'xdp', '--json']);
    assert.deepEqual([o.followTime, o.count, o.hook, o.output], [true, 3, 'xdp', 'json']);
  });

  it('chooses the TUI on a terminal, batch elsewhere, and honours --json/--batch', () => {
    assert.equal(opts([], true).output, 'tui');
    assert.equal(opts([], false).output, 'batch');
    assert.equal(opts(['--json'], true).output, 'json');
    assert.equal(opts(['-b'], true).output, 'batch');
  });

  it('takes repeated -i, numbers, and choices', () => {
    const o = opts(['-i', 'eth0', '-i', 'eth1', '--hook', 'both', '--xdp-mode', 'generic', '--map', 'percpu', '--max-flows', '1024', '-d', '0.5', '-n', '3', '--sort', 'packets', '--idle-timeout', '2.5', '--filter', 'tcp and port 443', '--top', '10']);
    assert.deepEqual(
      [o.interfaces, o.hook, o.xdpMode, o.map, o.maxFlows, o.intervalS, o.count, o.sort, o.idleTimeoutS, o.filter, o.top],
      [['eth0', 'eth1'], 'both', 'generic', 'percpu', 1024, 0.5, 3, 'packets', 2.5, 'tcp and port 443', 10],
    );
  });

  it('takes --window and --aggregate, and refuses other values', () => {
    const o = opts(['--window', '40', '--aggregate', 'conversation']);
    assert.deepEqual([o.window, o.aggregate], [40, 'conversation']);
    assert.throws(() => parseArgs(['--window', '5'], false), /Invalid values: Argument: window, Given: 5, Choices: 2, 10, 40/);
    assert.throws(() => parseArgs(['--aggregate', 'talk'], false), /Argument: aggregate, Given: "talk"/);
  });

  it('takes --no-processes and --aggregate process|cgroup', () => {
    assert.equal(opts(['--no-processes']).processes, false);
    assert.equal(opts(['--aggregate', 'process']).aggregate, 'process');
    assert.equal(opts(['--aggregate', 'cgroup']).aggregate, 'cgroup');
  });

  it('takes --cleanup and --no-drop-privileges', () => {
    assert.equal(opts(['--cleanup']).cleanup, true);
    assert.equal(opts(['--no-drop-privileges']).dropPrivileges, false);
  });

  it('takes --ipfix with an IPv4 or bracketed IPv6 collector, and its options with their defaults', () => {
    assert.deepEqual(opts(['--ipfix', '192.0.2.10:4739']).ipfix, { collector: { host: '192.0.2.10', port: 4739 }, activeTimeoutS: 60, domainId: 0, templateRefreshS: 600 });
    assert.deepEqual(
      opts(['--ipfix', '[2001:db8::10]:2055', '--ipfix-active-timeout', '5', '--ipfix-domain', '4294967295', '--ipfix-template-refresh', '2']).ipfix,
      { collector: { host: '2001:db8::10', port: 2055 }, activeTimeoutS: 5, domainId: 4294967295, templateRefreshS: 2 },
    );
    // --no-ui runs with an exporter of either kind.
    assert.equal(opts(['--ipfix', '127.0.0.1:4739', '--no-ui']).output, 'none');
  });

  it('answers --help and --version without running anything', () => {
    const help = parseArgs(['--help'], false);
    assert.ok('exit' in help && help.exit === 'help' && help.text.includes('--max-flows'));
    const version = parseArgs(['--version'], false);
    assert.ok('exit' in version && /^\d+\.\d+\.\d+$/.test(version.text));
  });

  const BAD: readonly [string[], RegExp][] = [
    [['--max-flows', 'abc'], /^--max-flows must be an integer, got 'abc'$/],
    [['--max-flows', '0'], /^--max-flows must be an integer from 1 to 16777216, got '0'$/],
    [['--max-flows', '1.5'], /^--max-flows must be an integer, got '1.5'$/],
    [['-d', '0'], /^--interval must be a number from 0.05 to 3600, got '0'$/],
    [['-d', 'soon'], /^--interval must be a number, got 'soon'$/],
    [['-n', '-1'], /^--count must be an integer from 1 up, got '-1'$/],
    [['--hook', 'kprobe'], /^Invalid values: Argument: hook, Given: "kprobe", Choices: "tc", "xdp", "both"$/],
    [['--json', '--batch'], /json and batch are mutually exclusive/],
    [['--xdp-mode', 'native'], /^--xdp-mode needs --hook xdp or --hook both$/],
    [['--hook', 'xdp', '--tc-mode', 'legacy'], /^--tc-mode needs --hook tc or --hook both$/],
    [['--filter', 'port'], /^--filter: expected a port number/],
    [['--filter', 'tcp and and'], /^--filter: /],
    [['-i', 'eth0', '-i', 'eth0'], /^an interface is given twice with -i$/],
    [['--bogus'], /Unknown argument: bogus/],
    [['--sort', 'colour'], /Invalid values/],
    [['--ipfix', 'nowhere'], /^--ipfix: 'nowhere' is not ADDR:PORT: use ADDR:PORT with an IP address, e\.g\. 192\.0\.2\.10:4739 or \[2001:db8::10\]:4739$/],
    [['--ipfix', 'collector.example:4739'], /^--ipfix: 'collector\.example:4739' has no IP address \(a host name is not taken\): use ADDR:PORT/],
    [['--ipfix', '192.0.2.10:70000'], /^--ipfix: '192\.0\.2\.10:70000' has a port out of range \('70000', 1-65535\)/],
    [['--ipfix', '192.0.2.10:0'], /has a port out of range \('0', 1-65535\)/],
    [['--ipfix', '192.0.2.10'], /^--ipfix: '192\.0\.2\.10' has no port: /],
    [['--ipfix', '2001:db8::10'], /has no port \(an IPv6 address goes in brackets before it\)/],
    [['--ipfix', '2001:db8::10:4739'], /has no port \(an IPv6 address goes in brackets/],
    [['--ipfix', '[192.0.2.10]:4739'], /has no IPv6 address in its brackets/],
    [['--ipfix', '192.0.2.10:4739', '--ipfix-active-timeout', '0'], /^--ipfix-active-timeout must be a number from 1 to 86400, got '0'$/],
    [['--ipfix', '192.0.2.10:4739', '--ipfix-domain', '-1'], /^--ipfix-domain must be an integer from 0 to 4294967295, got '-1'$/],
    [['--ipfix-domain', '3'], /^--ipfix-domain needs --ipfix ADDR:PORT$/],
    [['--no-ui'], /^--no-ui needs --metrics ADDR:PORT or --ipfix ADDR:PORT/],
    [['-r', 'x.pcap', '-i', 'eth0'], /^-r reads a capture and watches no interface: leave out -i$/],
    [['-r', 'x.pcap', '--hook', 'both'], /^-r runs the frames through one kind of program/],
    [['-r', 'x.pcap', '--hook', 'xdp', '--xdp-mode', 'native'], /^-r attaches nothing: leave out --xdp-mode and --tc-mode$/],
    [['-r', 'x.pcap', '-n', '2'], /^-n counts the tables of --follow-time/],
    [['-r', 'x.pcap', '--metrics'], /^-r prints the capture's tables and exits/],
    [['-r', 'x.pcap', '--demo'], /^-r does not go with --demo or --cleanup$/],
    [['-r', ''], /^-r needs a file name/],
    [['--follow-time'], /^--follow-time needs -r FILE$/],
  ];
  for (const [argv, message] of BAD) {
    it(`rejects ${argv.join(' ')}`, () => {
      assert.throws(() => parseArgs(argv, false), (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/, 'one line');
        return true;
      });
    });
  }
});
