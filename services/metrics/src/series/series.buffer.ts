import { ProgressEvent } from '@hounsfield/contracts';
import { numericValue } from '../exposition/metric-value';
import { JobSeriesAppend } from './series.repository';
import { encodeReport, escapeName, MergedReports } from './series-record';

/**
 * The report fields stored as series beside the trainer's own metrics. A trainer metric of the same
 * name wins (it is what the trainer meant by that name).
 */
const PROGRESS_FIELDS: [string, (e: ProgressEvent) => number | undefined][] = [
  ['lr', (e) => e.lr],
  ['epoch', (e) => e.epoch],
  ['samples_per_second', (e) => e.samplesPerSecond],
  ['data_wait_seconds', (e) => e.dataWaitSeconds],
  ['step_seconds', (e) => e.stepSeconds],
];

/** A report's stored values, by escaped series name. */
function reportValues(event: ProgressEvent): [string, number][] {
  const values: [string, number][] = [];
  for (const name in event.metrics) values.push([escapeName(name), numericValue(event.metrics[name])]);
  for (const [name, read] of PROGRESS_FIELDS) {
    const value = read(event);
    if (value !== undefined && !(name in event.metrics)) values.push([name, value]);
  }
  return values;
}

/** A job's reports of this batch: lines merged per bucket, and the reports themselves for a store that wants them one by one. */
interface JobReports {
  jobId: string;
  stride: number;
  names: Set<string>;
  lines: MergedReports[];
  events: ProgressEvent[];
  /** The latest (attempt, seq) taken into a line. */
  lastAttempt: number;
  lastSeq: number;
}

/**
 * Collects a batch's reports per job, so each job costs one store call per batch. Consecutive
 * reports of one attempt in one bucket (at the stride the store last reported for the job; 1 when
 * unknown) are merged here, where the values are numbers already, rather than parsed again by the
 * store script. A report not after the latest one taken (a duplicate) is left out of the lines, as
 * the store would skip it.
 */
export class SeriesBuffer {
  private readonly jobs = new Map<string, JobReports>();

  /** @param strideOf the stride a job's buckets had at its last store call (1 when unknown: nothing is merged). */
  constructor(private readonly strideOf: (jobId: string) => number = () => 1) {}

  add(event: ProgressEvent): void {
    let job = this.jobs.get(event.jobId);
    if (!job) {
      job = { jobId: event.jobId, stride: this.strideOf(event.jobId), names: new Set(), lines: [], events: [], lastAttempt: 0, lastSeq: -1 };
      this.jobs.set(event.jobId, job);
    }
    job.events.push(event);
    const { attempt, seq, step } = event;
    if (attempt < job.lastAttempt || (attempt === job.lastAttempt && seq <= job.lastSeq)) return;
    job.lastAttempt = attempt;
    job.lastSeq = seq;
    const values = reportValues(event);
    for (const [name] of values) job.names.add(name);
    const atMs = Date.parse(event.at);
    const open = job.lines.at(-1);
    if (open && job.stride > 1 && open.attempt === attempt && Math.floor(open.firstStep / job.stride) === Math.floor(step / job.stride)) {
      open.add(seq, step, atMs, values);
    } else {
      job.lines.push(new MergedReports(attempt, seq, step, atMs, values));
    }
  }

  drain(): JobSeriesAppend[] {
    const all = [...this.jobs.values()].map(({ jobId, stride, names, lines, events }) => ({
      jobId,
      stride,
      names,
      reports: lines.map((line) => line.encode()),
      unmerged: () => unmergedReports(events),
    }));
    this.jobs.clear();
    return all;
  }
}

/** Every report on its own line, as they came (the store skips what it holds). */
function unmergedReports(events: ProgressEvent[]): string[] {
  return events.map((e) => encodeReport(e.attempt, e.seq, e.step, Date.parse(e.at), reportValues(e)));
}
