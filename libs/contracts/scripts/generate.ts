import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { JSON_SCHEMA_PATH, PY_MODELS_PATH, PY_RPC_PATH, PY_SUBJECTS_PATH, RECIPE_CONFIGS_PATH, renderAll } from './python-codegen';

/**
 * Writes the JSON Schema and the Python models generated from it, and the recipes' config schemas
 * exported from Python; commit the results.
 */
function main(): void {
  const files = renderAll();
  for (const [path, text] of [
    [JSON_SCHEMA_PATH, files.jsonSchema],
    [PY_MODELS_PATH, files.pythonModels],
    [PY_SUBJECTS_PATH, files.pythonSubjects],
    [PY_RPC_PATH, files.pythonRpc],
    [RECIPE_CONFIGS_PATH, files.recipeConfigs],
  ] as const) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}

main();
