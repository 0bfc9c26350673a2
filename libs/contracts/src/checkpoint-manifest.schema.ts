import { z } from 'zod';
import { checkpointFileNameSchema } from './checkpoint-meta.schema';

export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256');

/**
 * One stored part of a file. Files are stored as parts of the upload's part size, in order; a part
 * is an object of its own (no object exceeds the part size) and can be moved in parallel.
 */
export const checkpointPartSchema = z
  .object({
    size: z.number().int().min(0),
  })
  .strict();

/**
 * One file of a checkpoint: name, size, and the sha256 of the whole file (what `sha256sum` prints
 * for the reassembled file), plus the sizes of its stored parts. Each byte is hashed once on each
 * side: the worker hashes the file it wrote, the service the parts it stores, in order.
 */
export const checkpointFileSchema = z
  .object({
    name: checkpointFileNameSchema,
    size: z.number().int().min(0),
    sha256: sha256HexSchema,
    parts: z.array(checkpointPartSchema).min(1).max(100_000),
  })
  .strict()
  .meta({ id: 'CheckpointFile' });
export type CheckpointFile = z.infer<typeof checkpointFileSchema>;

/** What a worker claims it uploaded; the service verifies every byte against it before a commit. */
export const checkpointManifestSchema = z
  .object({
    files: z
      .array(checkpointFileSchema)
      .min(1)
      .max(256)
      .refine((files) => new Set(files.map((f) => f.name)).size === files.length, 'file names must be unique')
      .refine((files) => files.some((f) => f.name === 'meta.json'), 'a checkpoint needs its meta.json'),
  })
  .strict()
  .meta({ id: 'CheckpointManifest' });
export type CheckpointManifest = z.infer<typeof checkpointManifestSchema>;
