import { Injectable } from '@nestjs/common';
import { RECIPE_CONFIGS } from '@hounsfield/contracts';
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import { ProblemException, problemFor } from '../http/problem';

interface FieldProblem {
  path: string;
  message: string;
}

/**
 * Checks a job spec's `config` against the JSON Schema its recipe exports (preset name plus
 * overrides, unknown keys refused at every level), so a typo is a 400 naming `config.<path>` at
 * submission instead of a trainer failure after GPUs were leased. Kinds without a recipe schema
 * (`script`) take any config.
 */
@Injectable()
export class RecipeConfigValidator {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: false, validateFormats: false });
    for (const [kind, entry] of Object.entries(RECIPE_CONFIGS)) {
      this.validators.set(kind, ajv.compile(entry.schema));
    }
  }

  /** Throws a 400 problem listing every offending field; returns when the config fits. */
  check(kind: string, config: unknown): void {
    const validate = this.validators.get(kind);
    if (!validate || validate(config ?? {})) return;
    const errors = fieldProblems(kind, validate.errors ?? []);
    throw new ProblemException(
      problemFor('invalid_request', `the job spec's config is invalid for kind ${kind}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, {
        errors,
      }),
    );
  }
}

function configPath(instancePath: string, extra?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return ['config', ...parts, ...(extra ? [extra] : [])].join('.');
}

function allowedFields(error: ErrorObject): string[] {
  const properties = (error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties ? Object.keys(properties).sort() : [];
}

/**
 * One readable problem per offending field: unknown keys name the allowed ones, an unknown preset
 * lists the kind's presets, and the alternatives of a nullable field collapse into one message.
 */
function fieldProblems(kind: string, errors: ErrorObject[]): FieldProblem[] {
  const byPath = new Map<string, FieldProblem>();
  for (const error of errors) {
    if (error.keyword === 'additionalProperties') {
      const name = String((error.params as { additionalProperty: string }).additionalProperty);
      const path = configPath(error.instancePath, name);
      byPath.set(path, { path, message: `unknown field ${name}; allowed: ${allowedFields(error).join(', ')}` });
      continue;
    }
    const path = configPath(error.instancePath);
    if (error.keyword === 'enum' && path === 'config.preset') {
      const presets = RECIPE_CONFIGS[kind]?.presets ?? [];
      byPath.set(path, { path, message: `unknown preset ${JSON.stringify(error.data)}; the ${kind} presets are ${presets.join(', ')}` });
      continue;
    }
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf' || byPath.has(path)) continue;
    const allowed = error.keyword === 'enum' ? `: ${((error.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}` : '';
    byPath.set(path, { path, message: `${error.message ?? 'is invalid'}${allowed}` });
  }
  return [...byPath.values()];
}
