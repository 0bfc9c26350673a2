/**
 * The stored form of one bucket of a job's series: every report of the bucket's steps, all series
 * together, as lines of one string. A closed bucket is one merged line; the open (last) bucket keeps
 * its reports as they came, one per line, until a later bucket opens.
 *
 *   attempt|seq|step|timeMs;name=value;name=value            one report (value empty when NaN/±Inf)
 *   attempt|seq|step|timeMs;name=sum,min,max,count,nonFinite  reports merged (min/max empty when none finite)
 *
 * The header keeps the last seq and step and the latest time merged. Lines combine in order, and a
 * line of a later attempt replaces what earlier attempts left (a resumed job re-runs steps). Names are escaped so that
 * `%`, `;`, `=`, `,`, `|` and newlines inside a metric name cannot break the format (reports travel
 * to the store newline-separated).
 */
import { MetricPoint } from '@hounsfield/contracts';

const ESCAPES: Record<string, string> = { '%': '%25', ';': '%3B', '=': '%3D', ',': '%2C', '|': '%7C', '\n': '%0A' };

const SEPARATOR = /[%;=,|\n]/;

export function escapeName(name: string): string {
  return SEPARATOR.test(name) ? name.replace(/[%;=,|\n]/g, (c) => ESCAPES[c]) : name;
}

export function unescapeName(name: string): string {
  return name.replace(/%(25|3B|3D|2C|7C|0A)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** One report in the stored form; `values` by escaped name. */
export function encodeReport(attempt: number, seq: number, step: number, atMs: number, values: [string, number][]): string {
  let record = `${attempt}|${seq}|${step}|${atMs}`;
  for (const [name, value] of values) record += `;${name}=${Number.isFinite(value) ? value : ''}`;
  return record;
}

/**
 * Consecutive reports of one attempt whose steps share a bucket, merged in memory into the line the
 * store would make of them (same sums, minima, maxima and counts, names in order of first
 * appearance), so the store script stores it as it is instead of parsing every report.
 *
 * A line of several reports travels as `firstSeq~line`: the store skips a report already applied
 * (its seq not after the stored one), and a merged line can only be skipped or applied whole, so the
 * store needs the first seq to see a line it holds in part (a redelivery cut into other batches)
 * and ask for the reports one by one.
 */
export class MergedReports {
  /** The merged line, once a second report joined the first. */
  private line?: Line;

  constructor(
    readonly attempt: number,
    readonly firstSeq: number,
    readonly firstStep: number,
    private readonly firstAtMs: number,
    private readonly firstValues: [string, number][],
  ) {}

  /** Adds the next report (same attempt, same bucket, later seq). */
  add(seq: number, step: number, atMs: number, values: [string, number][]): void {
    let line = this.line;
    if (!line) {
      line = { attempt: this.attempt, seq: this.firstSeq, step: this.firstStep, atMs: this.firstAtMs, values: new Map() };
      for (const [name, value] of this.firstValues) mergeValue(line.values, name, value);
      this.line = line;
    }
    for (const [name, value] of values) mergeValue(line.values, name, value);
    line.seq = Math.max(line.seq, seq);
    line.step = Math.max(line.step, step);
    line.atMs = Math.max(line.atMs, atMs);
  }

  /** The line to send: a lone report in its own form, several merged behind their first seq. */
  encode(): string {
    if (!this.line) return encodeReport(this.attempt, this.firstSeq, this.firstStep, this.firstAtMs, this.firstValues);
    return `${this.firstSeq}~${encodeLine(this.line, keepName)}`;
  }
}

function mergeValue(values: Map<string, Aggregate>, name: string, value: number): void {
  const finite = Number.isFinite(value);
  const x = values.get(name);
  if (!x) values.set(name, finite ? [value, value, value, 1, 0] : [0, null, null, 1, 1]);
  else if (finite) {
    x[0] += value;
    x[1] = x[1] === null ? value : Math.min(x[1], value);
    x[2] = x[2] === null ? value : Math.max(x[2], value);
    x[3] += 1;
  } else {
    x[3] += 1;
    x[4] += 1;
  }
}

const HEADER = /^(\d+)\|(\d+)\|(\d+)\|(\d+)$/;

/** Sum, min, max, count and non-finite count of one series in one line. */
type Aggregate = [sum: number, min: number | null, max: number | null, count: number, nonFinite: number];

interface Line {
  attempt: number;
  seq: number;
  step: number;
  atMs: number;
  values: Map<string, Aggregate>;
}

function malformed(raw: string): Error {
  return new Error(`malformed stored bucket ${JSON.stringify(raw)}`);
}

/** @param rename how a stored (escaped) name becomes a key: unescaped for reading, kept for compaction. */
function decodeLine(raw: string, rename: (name: string) => string = unescapeName): Line {
  const [head, ...fields] = raw.split(';');
  const h = HEADER.exec(head);
  if (!h) throw malformed(raw);
  const values = new Map<string, Aggregate>();
  const orNull = (text: string) => (text === '' ? null : Number(text));
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 1) throw malformed(raw);
    let aggregate: Aggregate;
    if (field.indexOf(',', eq) < 0) {
      const value = orNull(field.slice(eq + 1));
      aggregate = value === null ? [0, null, null, 1, 1] : [value, value, value, 1, 0];
      values.set(rename(field.slice(0, eq)), aggregate);
      continue;
    }
    const parts = field.slice(eq + 1).split(',');
    if (parts.length === 5) {
      aggregate = [Number(parts[0]), orNull(parts[1]), orNull(parts[2]), Number(parts[3]), Number(parts[4])];
    } else {
      throw malformed(raw);
    }
    values.set(rename(field.slice(0, eq)), aggregate);
  }
  return { attempt: Number(h[1]), seq: Number(h[2]), step: Number(h[3]), atMs: Number(h[4]), values };
}

const lower = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const upper = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/**
 * Two lines as one, as the store script combines them: `b` merged into `a`, which must be a line
 * nothing else holds (it is changed and returned, unless `b` of a later attempt replaces it).
 */
function combineInto(a: Line, b: Line): Line {
  if (a.attempt !== b.attempt) return a.attempt > b.attempt ? a : b;
  for (const [name, y] of b.values) {
    const x = a.values.get(name);
    if (!x) {
      a.values.set(name, y);
      continue;
    }
    x[0] += y[0];
    x[1] = lower(x[1], y[1]);
    x[2] = upper(x[2], y[2]);
    x[3] += y[3];
    x[4] += y[4];
  }
  a.seq = Math.max(a.seq, b.seq);
  a.step = Math.max(a.step, b.step);
  a.atMs = Math.max(a.atMs, b.atMs);
  return a;
}

/** A stored bucket (one line, or the open bucket's several) as one merged line. */
function decodeBucketLine(raw: string, rename?: (name: string) => string): Line {
  if (raw.indexOf('\n') < 0) return decodeLine(raw, rename);
  return raw
    .split('\n')
    .map((line) => decodeLine(line, rename))
    .reduce(combineInto);
}

const keepName = (name: string) => name;

function encodeLine(line: Line, escape: (name: string) => string = escapeName): string {
  const num = (x: number | null) => (x === null ? '' : String(x));
  let record = `${line.attempt}|${line.seq}|${line.step}|${line.atMs}`;
  for (const [name, [sum, min, max, count, nonFinite]] of line.values) {
    // Formatting a double is the costly part: a series that did not change (or had one finite value) formats once.
    const low = num(min);
    const high = max === min ? low : num(max);
    const total = count - nonFinite === 1 ? low : num(sum);
    record += `;${escape(name)}=${total},${low},${high},${count},${nonFinite}`;
  }
  return record;
}

/** Buckets after compaction: fewer, each covering `stride` steps. */
export interface Compaction {
  stride: number;
  last: number;
  buckets: [bucket: string, record: string][];
}

/** One series' value in a stored line: the numbers, and the texts of sum, minimum and maximum as stored. */
interface StoredValue {
  sum: number;
  min: number | null;
  max: number | null;
  count: number;
  nonFinite: number;
  sumText: string;
  minText: string;
  maxText: string;
}

/** The value of `field` after its `=` at `eq`, in either stored form; undefined when malformed. */
function storedValue(field: string, eq: number): StoredValue | undefined {
  const text = field.slice(eq + 1);
  if (text.indexOf(',') < 0) {
    if (text === '') return { sum: 0, min: null, max: null, count: 1, nonFinite: 1, sumText: '0', minText: '', maxText: '' };
    const value = Number(text);
    return { sum: value, min: value, max: value, count: 1, nonFinite: 0, sumText: text, minText: text, maxText: text };
  }
  const parts = text.split(',');
  if (parts.length !== 5) return undefined;
  const orNull = (t: string) => (t === '' ? null : Number(t));
  return { sum: Number(parts[0]), min: orNull(parts[1]), max: orNull(parts[2]), count: Number(parts[3]), nonFinite: Number(parts[4]), sumText: parts[0], minText: parts[1], maxText: parts[2] };
}

const larger = (x: string, y: string) => (Number(y) > Number(x) ? y : x);

/**
 * Two single-line buckets of one attempt with the same series in the same order (nearly every pair
 * compaction merges) as one line, straight from their text: no parsed line per bucket, and every
 * number that does not change (minima, maxima, a sum beside no finite value) is written back as it
 * was read. Undefined for anything else (the general path decides).
 */
function mergeSimilarLines(a: string, b: string): string | undefined {
  if (a.indexOf('\n') >= 0 || b.indexOf('\n') >= 0) return undefined;
  const fa = a.split(';');
  const fb = b.split(';');
  if (fa.length !== fb.length) return undefined;
  const ha = fa[0].split('|');
  const hb = fb[0].split('|');
  if (ha.length !== 4 || hb.length !== 4 || ha[0] !== hb[0]) return undefined;
  let record = `${ha[0]}|${larger(ha[1], hb[1])}|${larger(ha[2], hb[2])}|${larger(ha[3], hb[3])}`;
  for (let i = 1; i < fa.length; i += 1) {
    const x = fa[i];
    const y = fb[i];
    const eq = x.indexOf('=');
    if (eq < 1 || y.indexOf('=') !== eq || x.slice(0, eq) !== y.slice(0, eq)) return undefined;
    const p = storedValue(x, eq);
    const q = storedValue(y, eq);
    if (!p || !q) return undefined;
    const sum = q.min === null ? p.sumText : p.min === null ? q.sumText : String(p.sum + q.sum);
    const min = p.min === null || (q.min !== null && q.min < p.min) ? q.minText : p.minText;
    const max = p.max === null || (q.max !== null && q.max > p.max) ? q.maxText : p.maxText;
    record += `;${x.slice(0, eq + 1)}${sum},${min},${max},${p.count + q.count},${p.nonFinite + q.nonFinite}`;
  }
  return record;
}

/** Two stored buckets (`a` of the earlier steps) as one stored line. */
function mergeStored(a: string, b: string): string {
  return mergeSimilarLines(a, b) ?? encodeLine(combineInto(decodeBucketLine(a, keepName), decodeBucketLine(b, keepName)), keepName);
}

/**
 * Merges neighbouring buckets (the stride doubles) until at most `budget` remain, with the same
 * rules as the store script. `stored` is the hash as read (buckets and the `_stride` field). A
 * bucket merged with none is kept as stored.
 */
export function compactBuckets(stored: Record<string, string>, budget: number): Compaction {
  let stride = Number(stored._stride ?? 1);
  let buckets = new Map<number, string>();
  for (const [field, raw] of Object.entries(stored)) if (!field.startsWith('_')) buckets.set(Number(field), raw);
  while (buckets.size > budget) {
    stride *= 2;
    const merged = new Map<number, string>();
    for (const b of [...buckets.keys()].sort((x, y) => x - y)) {
      const target = Math.floor(b / 2);
      const raw = buckets.get(b) as string;
      const into = merged.get(target);
      merged.set(target, into === undefined ? raw : mergeStored(into, raw));
    }
    buckets = merged;
  }
  const indices = [...buckets.keys()].sort((x, y) => x - y);
  return { stride, last: indices.at(-1) ?? -1, buckets: indices.map((b) => [String(b), buckets.get(b) as string]) };
}

/** The points a stored bucket holds, by (unescaped) series name. */
export function decodeRecord(raw: string): Map<string, MetricPoint> {
  const line = decodeBucketLine(raw);
  const at = new Date(line.atMs).toISOString();
  const points = new Map<string, MetricPoint>();
  for (const [name, [sum, min, max, count, nonFinite]] of line.values) {
    const finite = count - nonFinite;
    points.set(name, { attempt: line.attempt, step: line.step, at, value: finite > 0 ? sum / finite : null, min, max, count, nonFinite });
  }
  return points;
}
