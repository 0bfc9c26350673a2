/**
 * The stored form of one bucket of a job's series: every report of the bucket's steps, all series
 * together, as one string, so a report that opens a new bucket is stored as it is.
 *
 *   attempt|seq|step|timeMs;name=value;name=value            one report (value empty when NaN/±Inf)
 *   attempt|seq|step|timeMs;name=sum,min,max,count,nonFinite  reports merged (min/max empty when none finite)
 *
 * The header keeps the last seq and step and the latest time merged. Names are escaped so that
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

const HEADER = /^(\d+)\|(\d+)\|(\d+)\|(\d+)$/;

/** The points a stored bucket holds, by (unescaped) series name. */
export function decodeRecord(raw: string): Map<string, MetricPoint> {
  const [head, ...fields] = raw.split(';');
  const h = HEADER.exec(head);
  if (!h) throw new Error(`malformed stored bucket ${JSON.stringify(raw)}`);
  const at = new Date(Number(h[4])).toISOString();
  const points = new Map<string, MetricPoint>();
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 1) throw new Error(`malformed stored bucket ${JSON.stringify(raw)}`);
    const parts = field.slice(eq + 1).split(',');
    const orNull = (text: string) => (text === '' ? null : Number(text));
    let point: MetricPoint;
    if (parts.length === 1) {
      const value = orNull(parts[0]);
      point = { attempt: Number(h[1]), step: Number(h[3]), at, value, min: value, max: value, count: 1, nonFinite: value === null ? 1 : 0 };
    } else if (parts.length === 5) {
      const [sum, min, max, count, nonFinite] = parts;
      const finite = Number(count) - Number(nonFinite);
      point = { attempt: Number(h[1]), step: Number(h[3]), at, value: finite > 0 ? Number(sum) / finite : null, min: orNull(min), max: orNull(max), count: Number(count), nonFinite: Number(nonFinite) };
    } else {
      throw new Error(`malformed stored bucket ${JSON.stringify(raw)}`);
    }
    points.set(unescapeName(field.slice(0, eq)), point);
  }
  return points;
}
