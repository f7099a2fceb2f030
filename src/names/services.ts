/**
 * Service names for well-known ports: IANA's names (as in /etc/services), one per port, the
 * common one where TCP and UDP differ. Built in so that names are the same on every host and
 * cost no I/O.
 */
const SERVICES: ReadonlyMap<number, string> = new Map([
  [20, 'ftp-data'],
  [21, 'ftp'],
  [22, 'ssh'],
  [23, 'telnet'],
  [25, 'smtp'],
  [53, 'domain'],
  [67, 'bootps'],
  [68, 'bootpc'],
  [69, 'tftp'],
  [80, 'http'],
  [110, 'pop3'],
  [123, 'ntp'],
  [137, 'netbios-ns'],
  [138, 'netbios-dgm'],
  [139, 'netbios-ssn'],
  [143, 'imap'],
  [161, 'snmp'],
  [179, 'bgp'],
  [389, 'ldap'],
  [443, 'https'],
  [445, 'microsoft-ds'],
  [465, 'submissions'],
  [514, 'syslog'],
  [546, 'dhcpv6-client'],
  [547, 'dhcpv6-server'],
  [587, 'submission'],
  [636, 'ldaps'],
  [853, 'domain-s'],
  [873, 'rsync'],
  [993, 'imaps'],
  [995, 'pop3s'],
  [1194, 'openvpn'],
  [1883, 'mqtt'],
  [3306, 'mysql'],
  [3389, 'ms-wbt-server'],
  [5353, 'mdns'],
  [5432, 'postgresql'],
  [6379, 'redis'],
  [8080, 'http-alt'],
  [11211, 'memcache'],
  [27017, 'mongodb'],
]);

/** The port's service name, or its number. */
export function portName(port: number, named: boolean): string {
  return (named && SERVICES.get(port)) || String(port);
}
