import { ProgressEvent } from '@hounsfield/contracts';

export interface DataBoundThresholds {
  /** GPUs below this mean utilisation (percent) … */
  utilizationPercent: number;
  /** … while data wait takes at least this fraction of the step. */
  dataWaitRatio: number;
}

export type DataBoundReading =
  | { kind: 'bound'; waitRatio: number; utilizationPercent: number }
  | { kind: 'fine' }
  /** The report or the telemetry lacks what the judgement needs (CPU job, no data-wait timing). */
  | { kind: 'unknown' };

/** Judges one report against the latest utilisation of the job's GPUs. */
export function readDataBound(event: ProgressEvent, utilizationPercent: number | undefined, thresholds: DataBoundThresholds): DataBoundReading {
  if (utilizationPercent === undefined || event.dataWaitSeconds === undefined || !event.stepSeconds) return { kind: 'unknown' };
  const waitRatio = Math.min(1, event.dataWaitSeconds / event.stepSeconds);
  return waitRatio >= thresholds.dataWaitRatio && utilizationPercent < thresholds.utilizationPercent
    ? { kind: 'bound', waitRatio, utilizationPercent }
    : { kind: 'fine' };
}
