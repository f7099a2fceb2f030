/** The model's public API: pure functions of snapshots and flows, no I/O and no clock. */
export type { Direction, FlowRate, FlowRecord, GlobalCounters, Peaks, Snapshot, Window, WindowRates } from './types.js';
export { computeRates, computeRateTable, computeTotals, expiredFlows, expiredRows, intervalSeconds, matchRows, monoToWallMs, type Totals } from './rates.js';
export { allRecords, RecordFlowSet, withoutKeys, type FlowSet } from './flow-set.js';
export { RateTable } from './rate-table.js';
export { advance, NO_HISTORY, windowRate, WINDOWS, type Rate, type RateHistory, type Step } from './windows.js';
export { formatEndpoint, hasPorts, icmpTypeCode, protoName, protoNumber, tcpFlagsString } from './format.js';
export { compareBy, SORT_FIELDS, sortKey, sortRows, topN, type SortField, type SortKey, type SortRow } from './sort.js';
export {
  filterToString,
  MATCH_ALL,
  matches,
  parseFilter,
  type Filter,
  type FilterableFlow,
  type ParseResult,
  type Side,
} from './filter.js';
export { aggregate, AGGREGATE_MODES, servicePort, type AggregateMode, type AggRow, type Traffic } from './aggregate.js';
export { GROUP_HEALTH, GROUP_SUMS, GroupTable, type GroupHealth, type GroupSum } from './group-table.js';
export {
  addressSortKey,
  formatAddress,
  formatIPv4,
  formatIPv6,
  parseAddress,
  parseIPv4,
  parseIPv6,
  parsePrefix,
  prefixContains,
  type Address,
  type Prefix,
} from './address.js';
