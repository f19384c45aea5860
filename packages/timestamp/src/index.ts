// Nanosecond timestamps as containerd keeps them (see timestamp.ts).
export {
  GO_ZERO_TIME,
  type Timestamp,
  compareTimestamps,
  formatRFC3339Nano,
  fromDate,
  fromMillis,
  fromUnixNanos,
  goFraction,
  isGoZeroTime,
  mustParseRFC3339,
  now,
  nowUnixNanos,
  parseRFC3339,
  toDate,
  toMillis,
  toUnixNanos,
} from './timestamp.js';
