import { ProgressEvent } from '@hounsfield/contracts';
import { numericValue } from '../exposition/metric-value';
import { JobSeriesAppend } from './series.repository';
import { encodeReport, escapeName } from './series-record';

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

/** Collects a batch's reports per job, so each job costs one store call per batch. */
export class SeriesBuffer {
  private readonly jobs = new Map<string, JobSeriesAppend>();

  add(event: ProgressEvent): void {
    let job = this.jobs.get(event.jobId);
    if (!job) {
      job = { jobId: event.jobId, names: new Set(), reports: [] };
      this.jobs.set(event.jobId, job);
    }
    const values: [string, number][] = [];
    for (const [name, value] of Object.entries(event.metrics)) values.push([escapeName(name), numericValue(value)]);
    for (const [name, read] of PROGRESS_FIELDS) {
      const value = read(event);
      if (value !== undefined && !(name in event.metrics)) values.push([name, value]);
    }
    for (const [name] of values) job.names.add(name);
    job.reports.push(encodeReport(event.attempt, event.seq, event.step, Date.parse(event.at), values));
  }

  drain(): JobSeriesAppend[] {
    const all = [...this.jobs.values()];
    this.jobs.clear();
    return all;
  }
}
