import { z } from 'zod';
import { accessGrantSchema } from './checkpoint-grant.schema';
import { checkpointPartSchema, checkpointFileSchema } from './checkpoint-manifest.schema';
import { checkpointRecordSchema } from './checkpoint-record.schema';

/**
 * `GET /v1/checkpoints/<ref>/download`: the checkpoint and a short-lived read grant for every part
 * of every file. The one answer that hands out grants, on request; no stored record holds one.
 */
export const checkpointDownloadSchema = z
  .object({
    checkpoint: checkpointRecordSchema,
    files: z.array(checkpointFileSchema.extend({ parts: z.array(checkpointPartSchema.extend({ grant: accessGrantSchema }).strict()) }).strict()),
  })
  .strict()
  .meta({ id: 'CheckpointDownload' });
export type CheckpointDownload = z.infer<typeof checkpointDownloadSchema>;
