import { describe, expect, it } from '@jest/globals';
import { GpuInfo, jobKindSchema, JobSpec, jobSpecSchema, SCHEMA_VERSION, WorkerHeartbeat } from '@hounsfield/contracts';
import { capacityShortfall, Candidate, describeNeed, placeJob, reservationsFor } from './placement';
import { nodesOf } from './gang-placement';

const GIB = 1024 ** 3;
const policy = { busyUtilizationPercent: 90 };

function gpu(index: number, name = 'NVIDIA H100 80GB HBM3'): GpuInfo {
  return { index, uuid: `GPU-${index}`, name, memoryTotalBytes: 80 * GIB, memoryUsedBytes: 0, utilizationPercent: 0, temperatureCelsius: 30, foreignProcesses: false };
}

function worker(workerId: string, gpuCount: number, patch: Partial<WorkerHeartbeat> = {}, leased: number[] = [], portsInUse: number[] = []): Candidate {
  return {
    worker: {
      heartbeat: {
        v: SCHEMA_VERSION,
        type: 'heartbeat',
        workerId,
        hostname: workerId,
        simulated: true,
        gpus: Array.from({ length: gpuCount }, (_, i) => gpu(i)),
        kinds: jobKindSchema.options.map((kind) => ({ kind, version: '1' })),
        running: [],
        intervalSeconds: 2,
        at: new Date().toISOString(),
        address: `10.0.0.${workerId.length}`,
        rendezvousPorts: { first: 29400, last: 29402 },
        ...patch,
      },
      lastSeenMs: Date.now(),
    },
    leases: new Map(leased.map((i) => [i, 'other:1'])),
    activeJobs: leased.length ? 1 : 0,
    cpuSlotsUsed: 0,
    rendezvousPortsInUse: new Set(portsInUse),
  };
}

function job(resources: Partial<JobSpec['resources']>): JobSpec {
  return jobSpecSchema.parse({ name: 'j', kind: 'pcdiff', resources, hyperparameters: { globalBatch: 64, baseLr: 1e-4 } });
}

describe('multi-node gang placement', () => {
  it('defaults to one node', () => {
    expect(nodesOf(job({ gpus: 1 }))).toBe(1);
  });

  it('leases every node on a distinct worker at once, node 0 hosting the rendezvous on its lowest free port', () => {
    const result = placeJob(job({ nodes: 2, gpus: 4 }), [worker('a', 8), worker('b', 4), worker('c', 8)], policy);
    expect(result).toEqual({
      placed: true,
      workerId: 'b',
      gpuIndices: [0, 1, 2, 3],
      nodes: [
        { workerId: 'b', gpuIndices: [0, 1, 2, 3] },
        { workerId: 'a', gpuIndices: [0, 1, 2, 3] },
      ],
      rendezvous: { host: '10.0.0.1', port: 29400 },
    });
  });

  it('places nothing when fewer workers than nodes have the GPUs free, and says how many have them', () => {
    const result = placeJob(job({ nodes: 2, gpus: 8, gpuType: 'H100' }), [worker('a', 8), worker('b', 8, {}, [0])], policy);
    expect(result).toEqual({ placed: false, reason: 'needs 2 workers with 8 free H100 each; 1 has them (a), of 2 live workers' });
    expect(describeNeed(job({ nodes: 3, gpus: 1 }))).toBe('needs 3 workers with 1 free GPU each');
  });

  it('prefers workers that share a topology label over a mix, even when the mix fits better', () => {
    const candidates = [
      worker('a', 2, { topology: 'rack-1' }),
      worker('b', 2, { topology: 'rack-2' }),
      worker('c', 8, { topology: 'rack-1' }),
      worker('d', 2),
    ];
    const result = placeJob(job({ nodes: 2, gpus: 2 }), candidates, policy);
    expect(result.placed && result.nodes?.map((n) => n.workerId)).toEqual(['a', 'c']);
  });

  it('takes the smallest topology domain that holds the job', () => {
    const candidates = ['a', 'b', 'c'].map((id) => worker(id, 1, { topology: 'big' })).concat(['d', 'e'].map((id) => worker(id, 1, { topology: 'small' })));
    const result = placeJob(job({ nodes: 2, gpus: 1 }), candidates, policy);
    expect(result.placed && result.nodes?.map((n) => n.workerId)).toEqual(['d', 'e']);
  });

  it('skips a rendezvous port already used by another multi-node attempt on that worker, and needs an address for node 0', () => {
    const result = placeJob(job({ nodes: 2, gpus: 1 }), [worker('a', 1, {}, [], [29400, 29401]), worker('b', 1, { address: undefined })], policy);
    expect(result).toMatchObject({ placed: true, nodes: [{ workerId: 'a' }, { workerId: 'b' }], rendezvous: { host: '10.0.0.1', port: 29402 } });
    // A requeued job starts its search further into the range (its earlier store may still hold a port).
    expect(placeJob(job({ nodes: 2, gpus: 1 }), [worker('a', 1), worker('b', 1)], policy, 3)).toMatchObject({ rendezvous: { port: 29402 } });
    expect(placeJob(job({ nodes: 2, gpus: 1 }), [worker('a', 1, {}, [], [29401]), worker('b', 1)], policy, 2)).toMatchObject({ rendezvous: { port: 29402 } });
    expect(placeJob(job({ nodes: 2, gpus: 1 }), [worker('a', 1), worker('b', 1)], policy, 4)).toMatchObject({ rendezvous: { port: 29400 } });
    const none = placeJob(job({ nodes: 2, gpus: 1 }), [worker('a', 1, {}, [], [29400, 29401, 29402]), worker('b', 1, { rendezvousPorts: undefined })], policy);
    expect(none.placed).toBe(false);
    if (!none.placed) expect(none.reason).toContain('none advertises a rendezvous address with a free port');
  });

  it('places CPU jobs over several workers by their free CPU slots', () => {
    const a = { ...worker('a', 0, { cpuSlots: 4 }), cpuSlotsUsed: 3 };
    const b = worker('b', 0, { cpuSlots: 4 });
    const c = worker('c', 0, { cpuSlots: 8 });
    const spec = job({ nodes: 2, gpus: 0, cpuProcesses: 2 });
    expect(placeJob(spec, [a, b, c], policy)).toMatchObject({ placed: true, nodes: [{ workerId: 'b', gpuIndices: [] }, { workerId: 'c', gpuIndices: [] }] });
    const refused = placeJob(spec, [a, b], policy);
    expect(refused).toEqual({ placed: false, reason: 'needs 2 workers with 2 free CPU slots each; 1 has them (b), of 2 live workers' });
  });

  it('refuses at submission what the registered workers could never hold, naming how many could', () => {
    const workers = [worker('a', 8).worker, worker('b', 4).worker];
    expect(capacityShortfall(job({ nodes: 2, gpus: 8, gpuType: 'H100' }), workers)).toBe(
      'needs 2 workers with 8 H100 each; only 1 registered worker has them (a). Ask for fewer nodes, start more workers, or set resources.waitForCapacity to wait for them',
    );
    expect(capacityShortfall(job({ nodes: 2, gpus: 4 }), workers)).toBeUndefined();
    expect(capacityShortfall(job({ nodes: 3, gpus: 1, gpuType: 'A100' }), workers)).toContain('needs 3 workers with 1 A100 each; no registered worker has them');
  });

  it('holds back a worker per node for a multi-node job that waited too long: the most free first, one able to host the rendezvous', () => {
    const candidates = [worker('a', 8, {}, [0, 1, 2, 3, 4, 5]), worker('b', 8, {}, [0, 1]), worker('c', 8, {}, [0, 1, 2]), worker('d', 4)];
    expect(reservationsFor(job({ nodes: 2, gpus: 8 }), candidates, policy)).toEqual(['b', 'c']);
    expect(reservationsFor(job({ nodes: 3, gpus: 8 }), candidates, policy)).toEqual(['b', 'c', 'a']);
    // Node 0 hosts the rendezvous: a set of workers none of which advertises an address would never be placed.
    const silent = (id: string, leased: number[]) => worker(id, 8, { address: undefined }, leased);
    expect(reservationsFor(job({ nodes: 2, gpus: 8 }), [silent('b', [0]), silent('c', [0, 1]), worker('a', 8, {}, [0, 1, 2])], policy)).toEqual(['b', 'a']);
    expect(reservationsFor(job({ nodes: 2, gpus: 8 }), [silent('b', []), silent('c', [])], policy)).toEqual([]);
    // Too few workers could ever hold it: nothing is held back.
    expect(reservationsFor(job({ nodes: 2, gpus: 8 }), [worker('a', 8), worker('d', 4)], policy)).toEqual([]);
  });
});
