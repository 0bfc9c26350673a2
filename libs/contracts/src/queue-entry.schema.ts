import { z } from 'zod';
import { userNameSchema } from './api-principal.schema';
import { identifierSchema, timestampSchema } from './common.schema';
import { resourcesSchema } from './job-spec.schema';
import { jobStateSchema } from './job-state.schema';
import { pageCursorSchema } from './page.schema';

/**
 * One queued or active job as every role sees it in `GET /v1/queue`: where it stands and what it
 * asks for, without its spec (config, data, script, environment stay with its owner).
 */
export const queueEntrySchema = z
  .object({
    id: identifierSchema,
    owner: userNameSchema.optional(),
    kind: z.string(),
    state: jobStateSchema,
    priority: z.number().int(),
    resources: resourcesSchema,
    queuePosition: z.number().int().min(1).optional(),
    pendingReason: z.string().optional(),
    workerId: identifierSchema.optional(),
    gpuIndices: z.array(z.number().int().min(0)).optional(),
    createdAt: timestampSchema,
  })
  .strict()
  .meta({ id: 'QueueEntry' });
export type QueueEntry = z.infer<typeof queueEntrySchema>;

export const queuePageSchema = z.object({ jobs: z.array(queueEntrySchema), nextCursor: pageCursorSchema.optional() }).strict().meta({ id: 'QueuePage' });
export type QueuePage = z.infer<typeof queuePageSchema>;
