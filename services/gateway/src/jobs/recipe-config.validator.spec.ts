import { describe, expect, it } from '@jest/globals';
import { ProblemException } from '../http/problem';
import { RecipeConfigValidator } from './recipe-config.validator';

function problem(kind: string, config: unknown): ProblemException {
  try {
    new RecipeConfigValidator().check(kind, config);
  } catch (error) {
    if (error instanceof ProblemException) return error;
    throw error;
  }
  throw new Error('the config was accepted');
}

describe('RecipeConfigValidator', () => {
  const validator = new RecipeConfigValidator();

  it('accepts the configs the demo and the tests submit', () => {
    expect(() => validator.check('pcdiff', { preset: 'cpu-tiny', synthetic: { subjects: 2, shape: 32 }, checkpointEvery: 1 })).not.toThrow();
    expect(() => validator.check('voxelization', { preset: 'cpu-tiny', logEvery: 40, optimizer: { name: 'adamw', weightDecay: 0.01 } })).not.toThrow();
    expect(() => validator.check('pcdiff', {})).not.toThrow();
    expect(() => validator.check('script', { anything: ['goes'] })).not.toThrow();
  });

  it('names an unknown field with its path and the allowed fields', () => {
    const { problem: details } = problem('pcdiff', { presett: 'cpu-tiny' });
    expect(details.status).toBe(400);
    expect(details.errors).toEqual([{ path: 'config.presett', message: expect.stringContaining('unknown field presett; allowed: bf16,') }]);
    expect(details.errors?.[0].message).toContain('preset');
    const nested = problem('pcdiff', { optimizer: { betaz: [0.9, 0.99] } }).problem.errors;
    expect(nested).toEqual([{ path: 'config.optimizer.betaz', message: 'unknown field betaz; allowed: betas, eps, name, weightDecay' }]);
  });

  it('lists the presets of the kind for an unknown preset', () => {
    const { problem: details } = problem('pcdiff', { preset: 'nope' });
    expect(details.errors).toEqual([{ path: 'config.preset', message: 'unknown preset "nope"; the pcdiff presets are cpu-tiny, paper-skullbreak, paper-skullfix' }]);
  });

  it('reports a mistyped value once, even for nullable fields', () => {
    const errors = problem('voxelization', { steps: 'ten', gradClip: 'x' }).problem.errors ?? [];
    expect(errors.map((e) => e.path).sort()).toEqual(['config.gradClip', 'config.steps']);
  });
});
