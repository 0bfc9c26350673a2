import { describe, expect, it } from '@jest/globals';
import { EVALUATION_MODEL_KINDS, evaluationCheckpoints, evaluationSpecIssues, evaluationSpecSchema } from './evaluation-spec.schema';

const pcdiff = {
  checkpoints: { diffusion: { job: 'job-a' }, voxelization: { job: 'job-b', ref: 'best:eval.HD95:min' } },
  dataset: { root: 'skulls', splitCsv: 'split.csv' },
  sampler: { method: 'ddim', steps: 2 },
  ensembleSize: 2,
  shards: 2,
  device: 'cpu',
};

function issuesOf(input: unknown) {
  const parsed = evaluationSpecSchema.safeParse(input);
  if (parsed.success) throw new Error('expected a refusal');
  return evaluationSpecIssues(parsed.error);
}

describe('the evaluation spec, a union of families', () => {
  it('takes a PCDiff spec without kind unchanged (kind pcdiff, the old defaults)', () => {
    const spec = evaluationSpecSchema.parse(pcdiff);
    expect(spec.kind).toBe('pcdiff');
    if (spec.kind !== 'pcdiff') throw new Error('pcdiff');
    expect(spec).toMatchObject({ ...pcdiff, checkpoints: { diffusion: { job: 'job-a', ref: 'latest' } } });
    expect(spec.postprocess.medianSize).toBe(3);
    expect(spec.weights).toBe('ema');
    expect(evaluationSpecSchema.parse({ ...pcdiff, kind: 'pcdiff' })).toEqual(spec);
    expect(evaluationCheckpoints(spec).map(([role]) => role)).toEqual(['diffusion', 'voxelization']);
  });

  it('takes a vqgan3d spec on a prepared split, its options left to the checkpoint config', () => {
    const spec = evaluationSpecSchema.parse({ kind: 'vqgan3d', checkpoints: { model: { job: 'vq' } }, dataset: { root: 'prepared', maxCases: 3 }, device: 'cpu', stride: [8, 8, 8] });
    expect(spec).toMatchObject({ kind: 'vqgan3d', dataset: { root: 'prepared', split: 'test', maxCases: 3 }, stride: [8, 8, 8], shards: 1 });
    if (spec.kind !== 'vqgan3d') throw new Error('vqgan3d');
    expect(spec.patch).toBeUndefined();
    expect(evaluationCheckpoints(spec)).toEqual([['model', { job: 'vq', ref: 'latest' }]]);
  });

  it('takes a topo_unet spec with its threshold, component size and tolerance', () => {
    const spec = evaluationSpecSchema.parse({ kind: 'topo_unet', checkpoints: { model: { job: 'topo', ref: '4' } }, dataset: { root: 'sheets' }, threshold: 0.4, minComponentVoxels: 10 });
    expect(spec).toMatchObject({ kind: 'topo_unet', dataset: { split: 'validation', tiffSpacing: [1, 1, 1] }, threshold: 0.4, minComponentVoxels: 10, surfaceToleranceMm: 2 });
  });

  it('takes a slice_interp spec with VAE weights and DDIM steps, refusing another family\'s fields', () => {
    const spec = evaluationSpecSchema.parse({ kind: 'slice_interp', checkpoints: { model: { job: 'si' } }, dataset: { root: 'prepared', maxCases: 2 }, vaeWeights: 'maisi/vae.safetensors', ddimSteps: 10, device: 'cpu' });
    expect(spec).toMatchObject({ kind: 'slice_interp', dataset: { root: 'prepared', split: 'test', maxCases: 2 }, vaeWeights: 'maisi/vae.safetensors', ddimSteps: 10, shards: 1 });
    expect(evaluationCheckpoints(spec)).toEqual([['model', { job: 'si', ref: 'latest' }]]);
    const defaults = evaluationSpecSchema.parse({ kind: 'slice_interp', checkpoints: { model: { job: 'si' } }, dataset: { root: 'prepared' } });
    if (defaults.kind !== 'slice_interp') throw new Error('slice_interp');
    expect(defaults.vaeWeights).toBeUndefined();
    expect(defaults.ddimSteps).toBeUndefined();
    const issues = issuesOf({ kind: 'slice_interp', checkpoints: { model: { job: 'si' } }, dataset: { root: 'p' }, ddimSteps: 0, stride: [8, 8, 8], sampler: { steps: 2 } });
    expect(issues.map((i) => i.path).sort()).toEqual(['ddimSteps', 'sampler', 'stride']);
    expect(issues.find((i) => i.path === 'stride')?.message).toMatch(/not an option of a slice_interp evaluation; its fields are .*vaeWeights, ddimSteps/);
  });

  it('names the field of another family and each family field that is missing or wrong', () => {
    const issues = issuesOf({ kind: 'vqgan3d', checkpoints: { model: { job: 'vq' } }, dataset: { root: 'p' }, sampler: { steps: 2 }, ensembleSize: 3 });
    expect(issues.map((i) => i.path).sort()).toEqual(['ensembleSize', 'sampler']);
    expect(issues[0].message).toMatch(/not an option of a vqgan3d evaluation/);

    const volumeCheckpoints = issuesOf({ kind: 'topo_unet', checkpoints: { diffusion: { job: 'a' }, voxelization: { job: 'b' } }, dataset: { root: 'p' }, threshold: 1.5 });
    expect(volumeCheckpoints.map((i) => i.path).sort()).toEqual(['checkpoints.diffusion', 'checkpoints.model', 'checkpoints.voxelization', 'threshold']);

    const pcdiffWithVolumeOptions = issuesOf({ ...pcdiff, patch: [8, 8, 8] });
    expect(pcdiffWithVolumeOptions.map((i) => i.path)).toEqual(['patch']);
    expect(issuesOf({ ...pcdiff, kind: 'pcdiff3d' }).map((i) => i.path)).toEqual(['kind']);
    expect(issuesOf({ ...pcdiff, kind: 'slice_interp' }).map((i) => i.path).sort()).toEqual(['checkpoints.diffusion', 'checkpoints.model', 'checkpoints.voxelization', 'dataset.splitCsv', 'ensembleSize', 'sampler']);
    expect(issuesOf({ kind: 'vqgan3d', checkpoints: { model: { job: 'vq' } }, dataset: { root: 'p', split: 'validation' } }).map((i) => i.path)).toEqual(['dataset.split']);
  });

  it('says which training kind each checkpoint role needs', () => {
    expect(EVALUATION_MODEL_KINDS.pcdiff).toEqual({ diffusion: 'pcdiff', voxelization: 'voxelization' });
    expect(EVALUATION_MODEL_KINDS.vqgan3d.model).toBe('vqgan3d');
    expect(EVALUATION_MODEL_KINDS.topo_unet.model).toBe('topo_unet');
    expect(EVALUATION_MODEL_KINDS.slice_interp).toEqual({ model: 'slice_interp' });
  });
});
