import { describe, expect, it } from '@jest/globals';
import { JobSpecInput, evaluationSpecSchema } from '@hounsfield/contracts';
import { shardJobSpec } from './shard-job';

const sliceInterp = { kind: 'slice_interp', checkpoints: { model: { job: 'si' } }, dataset: { root: 'prepared/ct/' }, device: 'cpu' };

/** The shard job's `data` (an evaluation_shard spec has one; the union's checkpoint_import member has none). */
const dataOf = (spec: JobSpecInput) => ('data' in spec ? spec.data : undefined);

describe('a shard job spec', () => {
  it('names a slice_interp evaluation VAE weights for preflight, relative ones under the dataset root', () => {
    const relative = shardJobSpec('ev-1', evaluationSpecSchema.parse({ ...sliceInterp, vaeWeights: 'maisi/vae.safetensors' }), 0);
    expect(dataOf(relative)).toEqual({ root: 'prepared/ct/', paths: ['prepared/ct/maisi/vae.safetensors'] });
    const absolute = shardJobSpec('ev-1', evaluationSpecSchema.parse({ ...sliceInterp, vaeWeights: '/data/maisi/vae.pt' }), 1);
    expect(dataOf(absolute)?.paths).toEqual(['/data/maisi/vae.pt']);
    expect(absolute.resources).toMatchObject({ gpus: 0, cpuProcesses: 1 });
  });

  it('names no extra path without VAE weights or for another family', () => {
    expect(dataOf(shardJobSpec('ev-1', evaluationSpecSchema.parse(sliceInterp), 0))?.paths).toEqual([]);
    const vq = evaluationSpecSchema.parse({ kind: 'vqgan3d', checkpoints: { model: { job: 'vq' } }, dataset: { root: 'p' } });
    expect(dataOf(shardJobSpec('ev-1', vq, 0))).toEqual({ root: 'p', paths: [] });
  });
});
