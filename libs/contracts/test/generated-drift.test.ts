import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { JSON_SCHEMA_PATH, PY_MODELS_PATH, PY_RPC_PATH, PY_SUBJECTS_PATH, RECIPE_CONFIGS_PATH, renderAll } from '../scripts/python-codegen';

describe('generated contracts', () => {
  // Regenerates everything and compares with what is committed: a schema change without
  // `npm run contracts:generate` (and a commit of the result) fails here.
  const fresh = renderAll();

  it.each([
    ['JSON Schema', JSON_SCHEMA_PATH, fresh.jsonSchema],
    ['Python models', PY_MODELS_PATH, fresh.pythonModels],
    ['Python subjects', PY_SUBJECTS_PATH, fresh.pythonSubjects],
    ['Python RPC table', PY_RPC_PATH, fresh.pythonRpc],
    ['recipe config schemas', RECIPE_CONFIGS_PATH, fresh.recipeConfigs],
  ])('committed %s equal a fresh generation (run `npm run contracts:generate`)', (_what, path, text) => {
    expect(readFileSync(path, 'utf8')).toBe(text);
  });
});
