import { describe, expect, it } from '@jest/globals';
import { jobRecordSchema, trainingJobSpecSchema } from '@hounsfield/contracts';
import { formatJob } from '../src/format';

describe('formatJob', () => {
  it('lists every node of a multi-node job with its worker, devices and global ranks', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const job = jobRecordSchema.parse({
      id: 'j1',
      spec: trainingJobSpecSchema.parse({ name: 'wide', kind: 'pcdiff', resources: { nodes: 2, gpus: 2 }, hyperparameters: { globalBatch: 8, baseLr: 1e-4 } }),
      state: 'running',
      attempt: 1,
      restarts: 0,
      createdAt: at,
      updatedAt: at,
      workerId: 'a',
      nodes: [
        { nodeRank: 0, workerId: 'a', gpuIndices: [0, 1], cudaVisibleDevices: '0,1', ranks: [0, 1] },
        { nodeRank: 1, workerId: 'b', gpuIndices: [2, 3], cudaVisibleDevices: '2,3', ranks: [2, 3] },
      ],
      rendezvous: { host: '10.0.0.1', port: 29400, id: 'j1-1' },
      history: [],
    });
    expect(formatJob(job).split('\n').slice(1)).toEqual([
      '  2 nodes  rendezvous 10.0.0.1:29400 (j1-1)',
      '    node 0: worker a  CUDA_VISIBLE_DEVICES="0,1"  ranks 0,1',
      '    node 1: worker b  CUDA_VISIBLE_DEVICES="2,3"  ranks 2,3',
    ]);
  });
});
