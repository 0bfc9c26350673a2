import { z } from 'zod';
import { checkpointFileNameSchema } from './checkpoint-meta.schema';

export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256');

/** One stored part of a file: files are stored as parts of the upload's part size, in order. */
export const checkpointPartSchema = z
  .object({
    size: z.number().int().min(0),
    sha256: sha256HexSchema,
  })
  .strict();

/** One file of a checkpoint: its bytes, whole and part by part. */
export const checkpointFileSchema = z
  .object({
    name: checkpointFileNameSchema,
    size: z.number().int().min(0),
    /** Of the whole file (what `sha256sum` prints for the reassembled file). */
    sha256: sha256HexSchema,
    parts: z.array(checkpointPartSchema).min(1).max(100_000),
  })
  .strict()
  .meta({ id: 'CheckpointFile' });
export type CheckpointFile = z.infer<typeof checkpointFileSchema>;

/**
 * One file as a worker reports it: every part's size and sha256 (computed where the file was
 * written), optionally the whole file's. The service verifies every part and computes the file's
 * sha256 from the verified bytes itself, so a worker need not hash each byte twice.
 */
export const checkpointManifestFileSchema = checkpointFileSchema
  .extend({ sha256: sha256HexSchema.optional() })
  .strict()
  .meta({ id: 'CheckpointManifestFile' });
export type CheckpointManifestFile = z.infer<typeof checkpointManifestFileSchema>;

/** What a worker claims it uploaded; the service verifies every byte against it before a commit. */
export const checkpointManifestSchema = z
  .object({
    files: z
      .array(checkpointManifestFileSchema)
      .min(1)
      .max(256)
      .refine((files) => new Set(files.map((f) => f.name)).size === files.length, 'file names must be unique')
      .refine((files) => files.some((f) => f.name === 'meta.json'), 'a checkpoint needs its meta.json'),
  })
  .strict()
  .meta({ id: 'CheckpointManifest' });
export type CheckpointManifest = z.infer<typeof checkpointManifestSchema>;
