import { z } from 'zod';
import { timestampSchema } from './common.schema';

/**
 * How a worker reaches one stored object without the store's credentials: a presigned URL for
 * exactly one method (s3), or the absolute path on the shared filesystem (fs). A path writer must
 * write a temporary file in the same directory and rename it into place.
 */
export const accessGrantSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('url'),
        url: z.string().url(),
        method: z.enum(['GET', 'PUT']),
        expiresAt: timestampSchema,
      })
      .strict(),
    z.object({ kind: z.literal('path'), path: z.string().min(1).max(4096) }).strict(),
  ])
  .meta({ id: 'AccessGrant' });
export type AccessGrant = z.infer<typeof accessGrantSchema>;
