import { z } from 'zod';
import document from '../generated/recipe-configs.json';

/** One recipe's config schema as exported by the Python package (`hounsfield.recipes.schemas`). */
export const recipeConfigSchemaEntrySchema = z
  .object({
    kind: z.string(),
    version: z.string(),
    presets: z.array(z.string()),
    defaultPreset: z.string(),
    /**
     * The recipe checks files its config names (a preflight, such as `slice_interp`'s
     * `vae.weights`): a GPU job of this kind passes that check on a worker's CPU in the
     * environment phase, before any GPU is leased.
     */
    checkBeforeLease: z.boolean(),
    /** JSON Schema (draft 2020-12) of the job spec's `config` for this kind: overrides of a preset. */
    schema: z.record(z.string(), z.unknown()),
  })
  .strict();
export type RecipeConfigSchemaEntry = z.infer<typeof recipeConfigSchemaEntrySchema>;

const recipeConfigDocumentSchema = z.object({ recipes: z.record(z.string(), recipeConfigSchemaEntrySchema) }).passthrough();

/**
 * The config schemas of the recipes this repository ships, keyed by job kind (generated: run
 * `npm run contracts:generate` after changing a recipe's config). Kinds without an entry (`script`)
 * take any config.
 */
export const RECIPE_CONFIGS: Readonly<Record<string, RecipeConfigSchemaEntry>> = recipeConfigDocumentSchema.parse(document).recipes;
