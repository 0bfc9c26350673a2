import { GpuInfo, isTrainingSpec, JobRecord, JobSpec, RECIPE_CONFIGS } from '@hounsfield/contracts';
import { Leases, WorkerState } from '../workers/worker.model';
import { describeGangNeed, gangCapacityShortfall, nodesOf, placeGang, rendezvousRange } from './gang-placement';

const GIB = 1024 ** 3;

/** A live worker with the GPUs currently leased on it. */
export interface Candidate {
  worker: WorkerState;
  leases: Leases;
  /** Attempts running or assigned on this worker (CPU jobs included). */
  activeJobs: number;
  /** CPU slots taken by the CPU jobs (one per process) running or assigned on this worker. */
  cpuSlotsUsed: number;
  /** Rendezvous ports of the multi-node attempts this worker hosts (node 0 here). */
  rendezvousPortsInUse?: Set<number>;
}

/** CPU slots a job takes on its worker: one per process for a CPU job, none for a GPU job. */
export function cpuSlotsOf(spec: JobSpec): number {
  return spec.resources.gpus === 0 ? spec.resources.cpuProcesses : 0;
}

/** Free CPU slots on a candidate (Infinity for a worker that advertises none: an older agent). */
export function freeCpuSlots(candidate: Candidate): number {
  const slots = candidate.worker.heartbeat.cpuSlots;
  return slots === undefined ? Infinity : slots - candidate.cpuSlotsUsed;
}

/**
 * Whether a job goes through the environment phase before GPU placement: a GPU `script` job with
 * uploaded code (whose `requirements.txt` only the worker sees) or requirements in its spec, and a
 * GPU job of a recipe that checks files its config names (`checkBeforeLease`, such as
 * `slice_interp`'s VAE weights). The worker builds the environment and runs the recipe's check as
 * CPU work (one CPU slot, no GPU lease) while the job stays queued, so a broken requirement or a
 * wrong weights file ends it before any GPU is leased, and pip's minutes never hold GPUs.
 * CPU jobs hold no GPUs: they build it, and check, at the start of their attempt, in their own
 * CPU slots.
 */
export function needsEnvironmentPhase(spec: JobSpec): boolean {
  if (!isTrainingSpec(spec) || spec.resources.gpus === 0) return false;
  if (RECIPE_CONFIGS[spec.kind]?.checkBeforeLease === true) return true;
  return spec.code !== undefined || (spec.environment?.requirements.length ?? 0) > 0;
}

/** What a job's environment phase does, in words: a script job's builds its environment, a recipe job's checks its config. */
export function environmentPhaseWork(spec: JobSpec): { doing: string; first: string } {
  return spec.kind === 'script'
    ? { doing: 'building its environment', first: 'its environment is built first' }
    : { doing: 'checking its config (files it names)', first: 'its config is checked first' };
}

/** A queued job whose environment is not ready yet: it waits in the CPU queue, not its GPU queue. */
export function awaitingEnvironment(job: JobRecord): boolean {
  return needsEnvironmentPhase(job.spec) && job.environment?.state !== 'ready';
}

/** CPU slots an environment build takes on its worker. */
export const ENVIRONMENT_BUILD_CPU_SLOTS = 1;

export interface PlacementPolicy {
  /** A GPU above this utilisation, with no lease of ours, is busy with someone else's work. */
  busyUtilizationPercent: number;
}

/** One node of a multi-node placement: its worker and GPUs, in node-rank order (node 0 first). */
export interface NodeChoice {
  workerId: string;
  gpuIndices: number[];
}

/**
 * Where a job goes: `workerId`/`gpuIndices` are its (first) node's. A multi-node job also gets all
 * its `nodes` in rank order and the rendezvous port on node 0's worker.
 */
export type PlacementResult =
  | { placed: true; workerId: string; gpuIndices: number[]; nodes?: NodeChoice[]; rendezvous?: { host: string; port: number } }
  | { placed: false; reason: string };

export type Skip = 'leased' | 'foreign' | 'utilization' | 'type' | 'memory';

export function skipReason(gpu: GpuInfo, spec: JobSpec, leases: Leases, policy: PlacementPolicy): Skip | undefined {
  const { gpuType, minGpuMemoryGiB } = spec.resources;
  if (gpuType && !gpu.name.toLowerCase().includes(gpuType.toLowerCase())) return 'type';
  if (minGpuMemoryGiB !== undefined && gpu.memoryTotalBytes < minGpuMemoryGiB * GIB) return 'memory';
  if (leases.has(gpu.index)) return 'leased';
  if (gpu.foreignProcesses) return 'foreign';
  if (gpu.utilizationPercent > policy.busyUtilizationPercent) return 'utilization';
  if (minGpuMemoryGiB !== undefined && gpu.memoryTotalBytes - gpu.memoryUsedBytes < minGpuMemoryGiB * GIB) return 'memory';
  return undefined;
}

/**
 * The largest number of GPUs any one worker could give a job with no type or memory
 * constraint right now. No GPU job larger than this can be placed in this pass.
 */
export function largestFreeBlock(candidates: Candidate[], policy: PlacementPolicy): number {
  let largest = 0;
  for (const candidate of candidates) {
    const free = candidate.worker.heartbeat.gpus.filter(
      (gpu) => !candidate.leases.has(gpu.index) && !gpu.foreignProcesses && gpu.utilizationPercent <= policy.busyUtilizationPercent,
    ).length;
    largest = Math.max(largest, free);
  }
  return largest;
}

/** Whether a worker's installation runs jobs of `kind` (it lists the kinds in its heartbeats). */
export function providesKind(worker: WorkerState, kind: string): boolean {
  return worker.heartbeat.kinds.some((offered) => offered.kind === kind);
}

/** What the job's kind needs, when no worker among `workers` provides it. */
export function missingKind(spec: JobSpec, workers: WorkerState[]): string | undefined {
  if (workers.some((worker) => providesKind(worker, spec.kind))) return undefined;
  const offered = [...new Set(workers.flatMap((w) => w.heartbeat.kinds.map((k) => `${k.kind} ${k.version}`)))].sort();
  return (
    `no registered worker runs jobs of kind ${spec.kind} (workers offer: ${offered.join(', ') || 'nothing'}); ` +
    `start a worker whose hounsfield installation has the ${spec.kind} recipe`
  );
}

/** What the job needs, in the words of a pending reason. */
export function describeNeed(spec: JobSpec): string {
  if (nodesOf(spec) > 1) return describeGangNeed(spec);
  const { gpus, gpuType, minGpuMemoryGiB } = spec.resources;
  if (gpus === 0) return `needs a worker for a CPU job (${spec.resources.cpuProcesses} process(es))`;
  const type = gpuType ? ` ${gpuType}` : '';
  const memory = minGpuMemoryGiB !== undefined ? ` with ≥ ${minGpuMemoryGiB} GiB free` : '';
  return `needs ${gpus}${type} GPU${gpus === 1 ? '' : 's'}${memory} on one worker`;
}

function placeCpuJob(spec: JobSpec, candidates: Candidate[]): PlacementResult {
  const need = cpuSlotsOf(spec);
  const fitting = candidates.filter((c) => freeCpuSlots(c) >= need);
  if (fitting.length === 0) {
    const most = [...candidates].sort((a, b) => freeCpuSlots(b) - freeCpuSlots(a))[0];
    const { workerId, cpuSlots } = most.worker.heartbeat;
    return {
      placed: false,
      reason: `${describeNeed(spec)}; waiting for ${need} free CPU slot(s) on one worker: the most free is ${Math.max(freeCpuSlots(most), 0)} of ${cpuSlots} CPU slots on ${workerId} (the rest run other CPU jobs)`,
    };
  }
  // CPU jobs prefer CPU-only workers, then the least loaded worker, so GPUs stay free for GPU jobs.
  const ordered = [...fitting].sort(
    (a, b) =>
      Number(a.worker.heartbeat.gpus.length > 0) - Number(b.worker.heartbeat.gpus.length > 0) ||
      a.activeJobs - b.activeJobs ||
      a.worker.heartbeat.workerId.localeCompare(b.worker.heartbeat.workerId),
  );
  const chosen = ordered[0];
  return { placed: true, workerId: chosen.worker.heartbeat.workerId, gpuIndices: [] };
}

/** GPUs of a worker that could hold the job once idle (type and total memory; leases and use ignored). */
export function fittingGpus(spec: JobSpec, worker: WorkerState): GpuInfo[] {
  return worker.heartbeat.gpus.filter(
    (gpu) => skipReason({ ...gpu, memoryUsedBytes: 0, utilizationPercent: 0, foreignProcesses: false }, spec, new Map(), { busyUtilizationPercent: 100 }) === undefined,
  );
}

/**
 * Where a GPU job's environment is built (its environment phase): one free CPU slot on a worker
 * that runs `script` jobs and could hold the job's GPUs once idle (an environment built where the
 * job can never run is wasted). Among those, the one with the most of those GPUs free now (the
 * job is then likely placed where its environment is cached), then the least loaded.
 */
export function placeEnvironmentBuild(spec: JobSpec, candidates: Candidate[], policy: PlacementPolicy): PlacementResult {
  if (candidates.length === 0) {
    return { placed: false, reason: `${describeNeed(spec)}; no worker is registered (start one with \`python -m hounsfield.worker\`)` };
  }
  const kindMissing = missingKind(spec, candidates.map((c) => c.worker));
  if (kindMissing) return { placed: false, reason: kindMissing };
  const able = candidates.filter((c) => providesKind(c.worker, spec.kind) && fittingGpus(spec, c.worker).length >= spec.resources.gpus);
  if (able.length === 0) return { placed: false, reason: `its environment is built first, on a worker that could hold the job: ${capacityShortfall(spec, candidates.map((c) => c.worker)) ?? describeNeed(spec)}` };
  const fitting = able.filter((c) => freeCpuSlots(c) >= ENVIRONMENT_BUILD_CPU_SLOTS);
  if (fitting.length === 0) {
    return { placed: false, reason: `waiting for a free CPU slot to build its environment (before any GPU is leased) on one of ${able.map((c) => c.worker.heartbeat.workerId).join(', ')}` };
  }
  const freeNow = (c: Candidate) => fittingGpus(spec, c.worker).filter((gpu) => skipReason(gpu, spec, c.leases, policy) === undefined).length;
  const ordered = [...fitting].sort(
    (a, b) => freeNow(b) - freeNow(a) || a.activeJobs - b.activeJobs || a.worker.heartbeat.workerId.localeCompare(b.worker.heartbeat.workerId),
  );
  return { placed: true, workerId: ordered[0].worker.heartbeat.workerId, gpuIndices: [] };
}

/**
 * Gang placement with a preference: among workers whose heartbeats list the job's environment
 * `key` (cached there), when one fits now; else anywhere it fits (the attempt then builds the
 * environment at its start, as a CPU job's does). Preferring rather than requiring keeps a job
 * from waiting on one worker while others are idle.
 */
export function placeJobPreferring(spec: JobSpec, candidates: Candidate[], policy: PlacementPolicy, key: string | undefined, attempt = 1): PlacementResult {
  if (key !== undefined) {
    const cached = candidates.filter((c) => c.worker.heartbeat.environments?.includes(key));
    if (cached.length > 0) {
      const there = placeJob(spec, cached, policy, attempt);
      if (there.placed) return there;
    }
  }
  return placeJob(spec, candidates, policy, attempt);
}

/**
 * Gang placement of whole GPUs on one worker, best fit (a multi-node job: see `placeGang`; its
 * `attempt` picks the rendezvous port): among workers whose eligible free GPUs
 * suffice, the one with the fewest, so large blocks stay whole for large jobs. Returns a reason a
 * person can act on when nothing fits.
 */
export function placeJob(spec: JobSpec, candidates: Candidate[], policy: PlacementPolicy, attempt = 1): PlacementResult {
  if (candidates.length === 0) {
    return { placed: false, reason: `${describeNeed(spec)}; no worker is registered (start one with \`python -m hounsfield.worker\`)` };
  }
  const kindMissing = missingKind(spec, candidates.map((c) => c.worker));
  if (kindMissing) return { placed: false, reason: kindMissing };
  candidates = candidates.filter((c) => providesKind(c.worker, spec.kind));
  if (nodesOf(spec) > 1) return placeGang(spec, candidates, policy, attempt);
  const needed = spec.resources.gpus;
  if (needed === 0) return placeCpuJob(spec, candidates);

  let best: { workerId: string; eligible: number[] } | undefined;
  let largest: { workerId: string; count: number } | undefined;
  const skips = new Map<Skip, number>();
  for (const candidate of candidates) {
    const eligible: number[] = [];
    for (const gpu of candidate.worker.heartbeat.gpus) {
      const skip = skipReason(gpu, spec, candidate.leases, policy);
      if (skip) skips.set(skip, (skips.get(skip) ?? 0) + 1);
      else eligible.push(gpu.index);
    }
    const workerId = candidate.worker.heartbeat.workerId;
    if (!largest || eligible.length > largest.count) largest = { workerId, count: eligible.length };
    if (eligible.length >= needed && (!best || eligible.length < best.eligible.length)) {
      best = { workerId, eligible };
    }
  }
  if (best) {
    return { placed: true, workerId: best.workerId, gpuIndices: [...best.eligible].sort((a, b) => a - b).slice(0, needed) };
  }
  const notes: string[] = [];
  if (skips.get('leased')) notes.push(`${skips.get('leased')} leased to other jobs`);
  if (skips.get('foreign')) notes.push(`${skips.get('foreign')} busy with processes the platform did not start`);
  if (skips.get('utilization')) notes.push(`${skips.get('utilization')} above ${policy.busyUtilizationPercent} % utilisation`);
  if (skips.get('type')) notes.push(`${skips.get('type')} of another type`);
  if (skips.get('memory')) notes.push(`${skips.get('memory')} with too little free memory`);
  const block = largest && largest.count > 0 ? `the largest free block is ${largest.count} on ${largest.workerId}` : 'no GPU is free';
  return { placed: false, reason: `${describeNeed(spec)}; ${block}${notes.length ? ` (GPUs skipped: ${notes.join(', ')})` : ''}` };
}

/**
 * Whether some registered worker could hold the job once idle (leases, foreign use and
 * utilisation ignored; type and total memory respected). A reason when none could.
 */
export function capacityShortfall(spec: JobSpec, workers: WorkerState[]): string | undefined {
  if (workers.length === 0) {
    return `${describeNeed(spec)}; no worker is registered (start one with \`python -m hounsfield.worker\`, or set resources.waitForCapacity to queue anyway)`;
  }
  const kindMissing = missingKind(spec, workers);
  if (kindMissing) return `${kindMissing}, or set resources.waitForCapacity to queue anyway`;
  workers = workers.filter((worker) => providesKind(worker, spec.kind));
  if (nodesOf(spec) > 1) return gangCapacityShortfall(spec, workers);
  if (spec.resources.gpus === 0) {
    const need = cpuSlotsOf(spec);
    const largest = [...workers].sort((a, b) => (b.heartbeat.cpuSlots ?? Infinity) - (a.heartbeat.cpuSlots ?? Infinity))[0];
    const slots = largest?.heartbeat.cpuSlots;
    if (slots === undefined || slots >= need) return undefined;
    return `${describeNeed(spec)}; the most CPU slots any registered worker has is ${slots} (${largest.heartbeat.workerId}). Ask for fewer processes, raise HOUNSFIELD_CPU_SLOTS on a worker, or set resources.waitForCapacity to wait for a larger worker`;
  }
  let largest = { workerId: '', count: 0 };
  for (const worker of workers) {
    const count = fittingGpus(spec, worker).length;
    if (count >= spec.resources.gpus) return undefined;
    if (count > largest.count) largest = { workerId: worker.heartbeat.workerId, count };
  }
  const most = largest.count > 0 ? `the most any registered worker has is ${largest.count} (${largest.workerId})` : 'no registered worker has a matching GPU';
  return `${describeNeed(spec)}; ${most}. Ask for fewer GPUs, or set resources.waitForCapacity to wait for a larger worker`;
}

/**
 * The workers to hold back for a GPU job that has waited too long (no smaller job may take their
 * GPUs meanwhile, so they add up until the job fits): among the workers that could hold one of its
 * nodes once idle (type and total memory), as many as it has nodes, those with the most of their
 * eligible GPUs free now, so the wait is shortest; for a multi-node job one of them advertises a
 * rendezvous address (node 0 must host it). None when too few workers could ever hold it.
 */
export function reservationsFor(spec: JobSpec, candidates: Candidate[], policy: PlacementPolicy): string[] {
  const eligible: { workerId: string; free: number; canHost: boolean }[] = [];
  for (const candidate of candidates.filter((c) => providesKind(c.worker, spec.kind))) {
    const fits = fittingGpus(spec, candidate.worker);
    if (fits.length < spec.resources.gpus) continue;
    const free = fits.filter((gpu) => skipReason(gpu, spec, candidate.leases, policy) === undefined).length;
    eligible.push({ workerId: candidate.worker.heartbeat.workerId, free, canHost: rendezvousRange(candidate) !== undefined });
  }
  const nodes = nodesOf(spec);
  if (eligible.length < nodes) return [];
  eligible.sort((a, b) => b.free - a.free || (a.workerId < b.workerId ? -1 : 1));
  const chosen = eligible.slice(0, nodes);
  if (nodes > 1 && !chosen.some((e) => e.canHost)) {
    const host = eligible.find((e) => e.canHost);
    if (!host) return [];
    chosen[nodes - 1] = host;
  }
  return chosen.map((e) => e.workerId);
}
