import { describe, expect, it } from '@jest/globals';
import { jobSpecSchema } from './job-spec.schema';

const minimal = { name: 'n', kind: 'pcdiff', hyperparameters: { globalBatch: 8, baseLr: 2e-4 } };

describe('job spec schema', () => {
  it('applies defaults: CPU, linear LR scaling, no restarts, priority 0', () => {
    const spec = jobSpecSchema.parse(minimal);
    expect(spec.resources).toEqual({ gpus: 0, cpuProcesses: 1, waitForCapacity: false });
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

  it('rejects unknown fields instead of ignoring a typo', () => {
    const result = jobSpecSchema.safeParse({ ...minimal, hyperparameters: { ...minimal.hyperparameters, globalBtach: 8 } });
    expect(result.success).toBe(false);
  });
});
