import { describe, expect, it } from '@jest/globals';
import { checkpointImportJobSpecSchema, isTrainingSpec, jobSpecSchema, trainingJobSpecSchema } from './job-spec.schema';

const minimal = { name: 'n', kind: 'pcdiff', hyperparameters: { globalBatch: 8, baseLr: 2e-4 } };

describe('job spec schema', () => {
  it('applies defaults: CPU, linear LR scaling, no restarts, priority 0', () => {
    const spec = trainingJobSpecSchema.parse(minimal);
    expect(spec.resources).toEqual({ nodes: 1, gpus: 0, cpuProcesses: 1, waitForCapacity: false });
    expect(spec.hyperparameters.lrScaling).toBe('linear');
    expect(spec.maxRestarts).toBe(0);
    expect(spec.priority).toBe(0);
  });

  it('requires a module for script jobs and names the field', () => {
    const result = jobSpecSchema.safeParse({ ...minimal, kind: 'script' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('script');
  });

  it('refuses platform-owned environment variables', () => {
    const result = jobSpecSchema.safeParse({ ...minimal, env: { CUDA_VISIBLE_DEVICES: '0', OK: '1' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['env.CUDA_VISIBLE_DEVICES']);
  });

  it('takes uploaded code and a per-job environment on script jobs only, naming the field', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const script = { ...minimal, kind: 'script', script: { module: 'my_lab.train' } };
    const spec = trainingJobSpecSchema.parse({ ...script, code: { digest, gitCommit: 'abc1234', dirty: true }, environment: { requirements: ['einops==0.8.0'] } });
    expect(spec.code).toEqual({ digest, gitCommit: 'abc1234', dirty: true });
    expect(spec.environment?.requirements).toEqual(['einops==0.8.0']);
    const onRecipe = trainingJobSpecSchema.safeParse({ ...minimal, code: { digest } });
    expect(onRecipe.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['code', expect.stringContaining('only script jobs')]]);
    const badDigest = trainingJobSpecSchema.safeParse({ ...script, code: { digest: 'md5:1' }, environment: { requirements: ['a\nb'] } });
    expect(badDigest.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['code.digest', 'environment.requirements.0']);
  });

  it('rejects unknown fields instead of ignoring a typo', () => {
    const result = jobSpecSchema.safeParse({ ...minimal, hyperparameters: { ...minimal.hyperparameters, globalBtach: 8 } });
    expect(result.success).toBe(false);
  });

  it('knows internal tasks by kind, with their own payloads and no hyperparameters', () => {
    const shard = jobSpecSchema.parse({ name: 'eval-e1-shard-0', kind: 'evaluation_shard', data: { root: 'skulls' }, evaluationShard: { evaluationId: 'e1', shard: 0 } });
    expect(isTrainingSpec(shard)).toBe(false);
    expect(shard).toMatchObject({ kind: 'evaluation_shard', resources: { waitForCapacity: true }, evaluationShard: { evaluationId: 'e1', shard: 0 } });
    const imported = checkpointImportJobSpecSchema.parse({ name: 'import a.pth', kind: 'checkpoint_import', checkpointImport: { importId: 'imp-1', fileName: 'a.pth' } });
    expect(imported).toMatchObject({ checkpoint: { keepLast: 1 }, checkpointImport: { format: 'auto' } });
    // A fake hyperparameter block, a URL argument or a script on an internal task is refused.
    expect(jobSpecSchema.safeParse({ ...imported, hyperparameters: minimal.hyperparameters }).success).toBe(false);
    expect(jobSpecSchema.safeParse({ ...imported, checkpointImport: { ...imported.checkpointImport, source: 'http://store/x' } }).success).toBe(false);
    expect(isTrainingSpec(jobSpecSchema.parse(minimal))).toBe(true);
  });

  it('users submit training only: internal kinds are refused by the training schema', () => {
    const result = trainingJobSpecSchema.safeParse({ name: 's', kind: 'evaluation_shard', evaluationShard: { evaluationId: 'e1', shard: 0 } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('kind');
  });
});
