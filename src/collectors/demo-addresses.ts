/** The demo bed's addresses, shared by the bed (demo.ts) and its traffic (demo-traffic.ts). */
export const SERVER_V4 = '10.254.0.1';
export const CLIENT_V4 = '10.254.0.2';
export const SERVER_V6 = 'fd00:254::1';
export const CLIENT_V6 = 'fd00:254::2';
