import { ProgressEvent } from '@hounsfield/contracts';
import { numericValue } from '../exposition/metric-value';
import { SeriesAppend } from './series.repository';

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

/** Collects a batch's reports per series, so each series costs one store call per batch. */
export class SeriesBuffer {
  private readonly series = new Map<string, SeriesAppend>();

  add(event: ProgressEvent): void {
    const atMs = Date.parse(event.at);
    const put = (name: string, value: number) => {
      const key = `${event.jobId}\u0000${name}`;
      let entry = this.series.get(key);
      if (!entry) {
        entry = { jobId: event.jobId, name, reports: [] };
        this.series.set(key, entry);
      }
      entry.reports.push({ attempt: event.attempt, seq: event.seq, step: event.step, value, atMs });
    };
    for (const [name, value] of Object.entries(event.metrics)) put(name, numericValue(value));
    for (const [name, read] of PROGRESS_FIELDS) {
      const value = read(event);
      if (value !== undefined && !(name in event.metrics)) put(name, value);
    }
  }

  drain(): SeriesAppend[] {
    const all = [...this.series.values()];
    this.series.clear();
    return all;
  }
}
