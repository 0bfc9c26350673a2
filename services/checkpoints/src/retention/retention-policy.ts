import { CheckpointRecord, CheckpointRetention, MetricValue } from '@hounsfield/contracts';

export interface RetentionCandidate {
  id: string;
  step: number;
  /** Orders checkpoints (attempt, then step); the greatest is the latest. */
  member: string;
  metrics: Record<string, MetricValue>;
  /** Waiting for its auto-evaluation's verdict: kept until then (it may turn out the best). */
  awaiting?: boolean;
}

/** A checkpoint's metrics for retention and `best:` references: the trainer's, then its evaluation's. */
export function checkpointMetrics(record: CheckpointRecord): Record<string, MetricValue> {
  return { ...record.meta.metrics, ...(record.evaluation?.metrics ?? {}) };
}

/** Whether a checkpoint's auto-evaluation verdict is still to come. */
export function awaitingEvaluation(record: CheckpointRecord): boolean {
  return record.evaluation?.state === 'awaiting' || record.evaluation?.state === 'running';
}

/**
 * The checkpoints a job keeps under its policy, given all its committed ones:
 * - the latest, always (a restart resumes from it);
 * - `keepLast`: the newest K;
 * - `keepBest`: the K best by a reported metric (finite values only; among equal values the newer);
 * - `keepEvery`: every checkpoint whose step is a multiple of N (a sparse history that does not
 *   shift as other checkpoints come and go);
 * - every checkpoint still awaiting its auto-evaluation (until the verdict, it may be the best).
 * Everything else is deleted. Adding a checkpoint can only remove others from this set, never
 * bring one back, so deletions decided on an older view stay right (GC needs no lock).
 */
export function checkpointsToKeep(candidates: RetentionCandidate[], policy: CheckpointRetention): Set<string> {
  const newestFirst = [...candidates].sort((a, b) => (a.member < b.member ? 1 : a.member > b.member ? -1 : 0));
  const keep = new Set<string>();
  if (newestFirst.length > 0) keep.add(newestFirst[0].id);
  for (const candidate of newestFirst.slice(0, policy.keepLast)) keep.add(candidate.id);
  if (policy.keepBest) {
    const { metric, mode, count } = policy.keepBest;
    const scored = newestFirst.flatMap((c) => {
      const value = c.metrics[metric];
      return typeof value === 'number' && Number.isFinite(value) ? [{ id: c.id, value }] : [];
    });
    // A stable sort keeps the newer checkpoint first among equal values.
    scored.sort((a, b) => (mode === 'min' ? a.value - b.value : b.value - a.value));
    for (const best of scored.slice(0, count)) keep.add(best.id);
  }
  const every = policy.keepEvery;
  if (every !== undefined) {
    for (const candidate of newestFirst) if (candidate.step % every === 0) keep.add(candidate.id);
  }
  for (const candidate of newestFirst) if (candidate.awaiting) keep.add(candidate.id);
  return keep;
}

/** The best committed checkpoint by `metric` (finite values; ties go to the newer), or undefined. */
export function bestBy<T extends RetentionCandidate>(candidates: T[], metric: string, mode: 'min' | 'max'): T | undefined {
  let best: { candidate: T; value: number } | undefined;
  for (const candidate of candidates) {
    const value = candidate.metrics[metric];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const better = best === undefined || (mode === 'min' ? value < best.value : value > best.value);
    const tieButNewer = best !== undefined && value === best.value && candidate.member > best.candidate.member;
    if (better || tieButNewer) best = { candidate, value };
  }
  return best?.candidate;
}
