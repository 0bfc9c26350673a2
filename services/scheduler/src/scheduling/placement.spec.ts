import { describe, expect, it } from '@jest/globals';
import { GpuInfo, jobKindSchema, JobRecord, JobSpec, jobSpecSchema, SCHEMA_VERSION } from '@hounsfield/contracts';
import { queueSizeOf } from '../jobs/job.repository';
import {
  awaitingEnvironment,
  Candidate,
  capacityShortfall,
  cpuSlotsOf,
  environmentPhaseWork,
  needsEnvironmentPhase,
  placeEnvironmentBuild,
  placeJob,
  placeJobPreferring,
  reservationsFor,
} from './placement';

const GIB = 1024 ** 3;
const policy = { busyUtilizationPercent: 90 };

function gpu(index: number, patch: Partial<GpuInfo> = {}): GpuInfo {
  return {
    index,
    uuid: `GPU-${index}`,
    name: 'NVIDIA H100 80GB HBM3',
    memoryTotalBytes: 80 * GIB,
    memoryUsedBytes: 0,
    utilizationPercent: 0,
    temperatureCelsius: 30,
    foreignProcesses: false,
    ...patch,
  };
}

function worker(workerId: string, gpus: GpuInfo[], leased: number[] = []): Candidate {
  return {
    worker: {
      heartbeat: { v: SCHEMA_VERSION, type: 'heartbeat', workerId, hostname: workerId, simulated: true, gpus, kinds: jobKindSchema.options.map((kind) => ({ kind, version: '1' })), running: [], intervalSeconds: 2, at: new Date().toISOString() },
      lastSeenMs: Date.now(),
    },
    leases: new Map(leased.map((i) => [i, `other:1`])),
    activeJobs: leased.length ? 1 : 0,
    cpuSlotsUsed: 0,
  };
}

function job(resources: Partial<JobSpec['resources']>): JobSpec {
  return jobSpecSchema.parse({ name: 'j', kind: 'pcdiff', resources, hyperparameters: { globalBatch: 56, baseLr: 1e-4 } });
}

const eight = (leased: number[] = []) => worker('node-a', [0, 1, 2, 3, 4, 5, 6, 7].map((i) => gpu(i)), leased);

describe('gang placement', () => {
  it('places 7 GPUs and then 1 on the same 8-GPU worker with disjoint devices', () => {
    const first = placeJob(job({ gpus: 7 }), [eight()], policy);
    expect(first).toEqual({ placed: true, workerId: 'node-a', gpuIndices: [0, 1, 2, 3, 4, 5, 6] });
    const second = placeJob(job({ gpus: 1 }), [eight([0, 1, 2, 3, 4, 5, 6])], policy);
    expect(second).toEqual({ placed: true, workerId: 'node-a', gpuIndices: [7] });
  });

  it('chooses the best fit: the worker with the smallest free block that fits', () => {
    const big = worker('big', [0, 1, 2, 3, 4, 5, 6, 7].map((i) => gpu(i)));
    const small = worker('small', [0, 1, 2, 3].map((i) => gpu(i)), [0, 1]);
    const result = placeJob(job({ gpus: 2 }), [big, small], policy);
    expect(result).toEqual({ placed: true, workerId: 'small', gpuIndices: [2, 3] });
  });

  it('skips GPUs used by foreign processes or above the utilisation threshold', () => {
    const w = worker('node', [gpu(0, { foreignProcesses: true }), gpu(1, { utilizationPercent: 97 }), gpu(2), gpu(3)]);
    expect(placeJob(job({ gpus: 2 }), [w], policy)).toEqual({ placed: true, workerId: 'node', gpuIndices: [2, 3] });
    const refused = placeJob(job({ gpus: 3 }), [w], policy);
    expect(refused.placed).toBe(false);
    if (!refused.placed) {
      expect(refused.reason).toContain('needs 3 GPUs on one worker; the largest free block is 2 on node');
      expect(refused.reason).toContain('busy with processes the platform did not start');
      expect(refused.reason).toContain('above 90 % utilisation');
    }
  });

  it('honours GPU type and minimum free memory', () => {
    const w = worker('mixed', [gpu(0, { name: 'NVIDIA A100-SXM4-40GB', memoryTotalBytes: 40 * GIB }), gpu(1), gpu(2, { memoryUsedBytes: 60 * GIB })]);
    expect(placeJob(job({ gpus: 1, gpuType: 'a100' }), [w], policy)).toMatchObject({ gpuIndices: [0] });
    expect(placeJob(job({ gpus: 1, minGpuMemoryGiB: 30 }), [w], policy)).toMatchObject({ gpuIndices: [0] });
    expect(placeJob(job({ gpus: 2, minGpuMemoryGiB: 30 }), [w], policy)).toMatchObject({ gpuIndices: [0, 1] });
    const none = placeJob(job({ gpus: 3, minGpuMemoryGiB: 30 }), [w], policy);
    expect(none.placed).toBe(false);
    if (!none.placed) expect(none.reason).toMatch(/needs 3 GPUs with ≥ 30 GiB free on one worker/);
  });

  it('puts CPU jobs on CPU-only workers first', () => {
    const result = placeJob(job({ gpus: 0 }), [eight(), worker('cpu-box', [])], policy);
    expect(result).toEqual({ placed: true, workerId: 'cpu-box', gpuIndices: [] });
  });

  it('says when no worker is registered, and refuses what no worker could ever hold', () => {
    const none = placeJob(job({ gpus: 1 }), [], policy);
    expect(none.placed).toBe(false);
    expect(capacityShortfall(job({ gpus: 9 }), [eight().worker])).toMatch(/the most any registered worker has is 8 \(node-a\)/);
    expect(capacityShortfall(job({ gpus: 8 }), [eight([0, 1]).worker])).toBeUndefined();
    expect(capacityShortfall(job({ gpus: 1, gpuType: 'H200' }), [eight().worker])).toMatch(/no registered worker has a matching GPU/);
  });
});

describe('reservation for a job that waited too long', () => {
  it('holds back the worker that could hold it with the most GPUs free, never one that could not', () => {
    const quad = (id: string, leased: number[], name = 'NVIDIA H100 80GB HBM3') => worker(id, [0, 1, 2, 3].map((i) => gpu(i, { name })), leased);
    const candidates = [quad('node-a', [0, 1, 2]), quad('node-b', [0, 1]), quad('node-c', [], 'NVIDIA A100 40GB'), worker('node-d', [gpu(0)])];
    expect(reservationsFor(job({ gpus: 4, gpuType: 'H100' }), candidates, policy)).toEqual(['node-b']);
    expect(reservationsFor(job({ gpus: 4 }), candidates, policy)).toEqual(['node-c']);
    expect(reservationsFor(job({ gpus: 8 }), candidates, policy)).toEqual([]);
  });
});

describe('CPU slots', () => {
  function cpuWorker(workerId: string, cpuSlots: number | undefined, cpuSlotsUsed = 0): Candidate {
    const candidate = worker(workerId, []);
    const heartbeat = { ...candidate.worker.heartbeat, ...(cpuSlots === undefined ? {} : { cpuSlots }) };
    return { ...candidate, worker: { ...candidate.worker, heartbeat }, cpuSlotsUsed, activeJobs: cpuSlotsUsed ? 1 : 0 };
  }
  const twoProcesses = job({ gpus: 0, cpuProcesses: 2 });

  it('takes one slot per process of a CPU job and none for a GPU job', () => {
    expect(cpuSlotsOf(twoProcesses)).toBe(2);
    expect(cpuSlotsOf(job({ gpus: 2 }))).toBe(0);
  });

  it('places a CPU job only where enough slots are free, and says so when none are', () => {
    expect(placeJob(twoProcesses, [cpuWorker('busy', 2, 2), cpuWorker('idle', 4, 1)], policy)).toEqual({ placed: true, workerId: 'idle', gpuIndices: [] });
    const waiting = placeJob(twoProcesses, [cpuWorker('busy', 2, 2), cpuWorker('half', 4, 3)], policy);
    expect(waiting).toEqual({
      placed: false,
      reason: 'needs a worker for a CPU job (2 process(es)); waiting for 2 free CPU slot(s) on one worker: the most free is 1 of 4 CPU slots on half (the rest run other CPU jobs)',
    });
  });

  it('does not limit workers that advertise no slots (older agents)', () => {
    expect(placeJob(twoProcesses, [cpuWorker('old', undefined, 40)], policy)).toMatchObject({ placed: true, workerId: 'old' });
  });

  it('refuses at submission a CPU job larger than every worker', () => {
    const reason = capacityShortfall(job({ gpus: 0, cpuProcesses: 8 }), [cpuWorker('small', 2).worker, cpuWorker('medium', 4).worker]);
    expect(reason).toContain('the most CPU slots any registered worker has is 4 (medium)');
    expect(capacityShortfall(twoProcesses, [cpuWorker('small', 2).worker])).toBeUndefined();
  });
});

describe('the environment phase: a GPU script job’s environment is built before any GPU is leased', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  function script(resources: Partial<JobSpec['resources']>, extra: Record<string, unknown> = {}): JobSpec {
    return jobSpecSchema.parse({ name: 's', kind: 'script', script: { module: 'my_lab.train' }, resources, hyperparameters: { globalBatch: 4, baseLr: 0.01 }, ...extra });
  }
  function record(spec: JobSpec, environment?: JobRecord['environment']): JobRecord {
    const at = new Date().toISOString();
    return { id: 'j1', spec, state: 'queued', attempt: 1, restarts: 0, createdAt: at, updatedAt: at, history: [{ state: 'queued', attempt: 1, at }], ...(environment ? { environment } : {}) };
  }
  function withSlots(candidate: Candidate, slots: number, used = 0, cached: string[] = []): Candidate {
    return { ...candidate, cpuSlotsUsed: used, worker: { ...candidate.worker, heartbeat: { ...candidate.worker.heartbeat, cpuSlots: slots, environments: cached } } };
  }

  it('applies to GPU script jobs with code or requirements only; CPU jobs build in their attempt', () => {
    expect(needsEnvironmentPhase(script({ gpus: 1 }, { code: { digest } }))).toBe(true);
    expect(needsEnvironmentPhase(script({ gpus: 2 }, { environment: { requirements: ['einops==0.8.0'] } }))).toBe(true);
    expect(needsEnvironmentPhase(script({ gpus: 1 }, { environment: { requirements: [] } }))).toBe(false);
    expect(needsEnvironmentPhase(script({ gpus: 0 }, { code: { digest } }))).toBe(false);
    expect(needsEnvironmentPhase(script({ gpus: 1 }))).toBe(false);
    expect(needsEnvironmentPhase(job({ gpus: 1 }))).toBe(false);
  });

  it('applies to GPU jobs of a recipe that checks its files before the lease (slice_interp), not to its CPU jobs', () => {
    const recipe = (kind: string, gpus: number) =>
      jobSpecSchema.parse({ name: 'r', kind, resources: { gpus }, hyperparameters: { globalBatch: 4, baseLr: 0.01 }, config: { preset: 'cpu-tiny' } });
    expect(needsEnvironmentPhase(recipe('slice_interp', 1))).toBe(true);
    expect(needsEnvironmentPhase(recipe('slice_interp', 0))).toBe(false);
    for (const kind of ['pcdiff', 'voxelization', 'vqgan3d', 'topo_unet']) expect(needsEnvironmentPhase(recipe(kind, 2))).toBe(false);
    expect(environmentPhaseWork(recipe('slice_interp', 1))).toEqual({ doing: 'checking its config (files it names)', first: 'its config is checked first' });
    expect(environmentPhaseWork(script({ gpus: 1 }, { code: { digest } }))).toEqual({ doing: 'building its environment', first: 'its environment is built first' });
  });

  it('waits in the CPU queue until its environment is ready, then in its GPU queue', () => {
    const spec = script({ gpus: 2 }, { code: { digest } });
    const requestedAt = new Date().toISOString();
    expect(queueSizeOf(record(spec))).toBe(0);
    expect(awaitingEnvironment(record(spec, { state: 'building', workerId: 'node-a', requestedAt, buildId: 'b1' }))).toBe(true);
    const ready = record(spec, { state: 'ready', workerId: 'node-a', key: 'abcdef0123456789abcdef01', requestedAt, readyAt: requestedAt, buildId: 'b1' });
    expect(awaitingEnvironment(ready)).toBe(false);
    expect(queueSizeOf(ready)).toBe(2);
    expect(queueSizeOf(record(script({ gpus: 3 })))).toBe(3);
  });

  it('builds on one free CPU slot of a worker that could hold the job, preferring the one with most of its GPUs free now', () => {
    const spec = script({ gpus: 4 }, { code: { digest } });
    const tooSmall = withSlots(worker('small', [gpu(0), gpu(1)]), 4);
    const busy = withSlots(worker('busy', [0, 1, 2, 3].map((i) => gpu(i)), [0, 1, 2]), 4);
    const idle = withSlots(worker('idle', [0, 1, 2, 3].map((i) => gpu(i))), 4);
    expect(placeEnvironmentBuild(spec, [tooSmall, busy, idle], policy)).toEqual({ placed: true, workerId: 'idle', gpuIndices: [] });
    // Every GPU leased: the build still goes ahead (it needs a CPU slot, not a GPU).
    expect(placeEnvironmentBuild(spec, [tooSmall, busy], policy)).toEqual({ placed: true, workerId: 'busy', gpuIndices: [] });
  });

  it('waits for a CPU slot, and names why when no worker could ever hold the job', () => {
    const spec = script({ gpus: 2 }, { code: { digest } });
    const full = withSlots(worker('full', [gpu(0), gpu(1)]), 2, 2);
    const waiting = placeEnvironmentBuild(spec, [full], policy);
    expect(waiting.placed).toBe(false);
    if (!waiting.placed) expect(waiting.reason).toContain('waiting for a free CPU slot to build its environment (before any GPU is leased) on one of full');
    const never = placeEnvironmentBuild(spec, [withSlots(worker('one', [gpu(0)]), 4)], policy);
    expect(never.placed).toBe(false);
    if (!never.placed) expect(never.reason).toContain('its environment is built first, on a worker that could hold the job');
  });

  it('places the job where its environment is cached when it fits there, else where it fits', () => {
    const spec = script({ gpus: 1 }, { code: { digest } });
    const key = 'abcdef0123456789abcdef01';
    const other = withSlots(worker('a-other', [gpu(0)]), 4);
    const cached = withSlots(worker('b-cached', [gpu(0), gpu(1)]), 4, 0, [key]);
    // Best fit alone would pick a-other (the smaller free block); the cached environment wins.
    expect(placeJob(spec, [other, cached], policy)).toMatchObject({ workerId: 'a-other' });
    expect(placeJobPreferring(spec, [other, cached], policy, key)).toEqual({ placed: true, workerId: 'b-cached', gpuIndices: [0] });
    const cachedFull = withSlots(worker('b-cached', [gpu(0)], [0]), 4, 0, [key]);
    expect(placeJobPreferring(spec, [other, cachedFull], policy, key)).toEqual({ placed: true, workerId: 'a-other', gpuIndices: [0] });
  });
});
