import { z } from 'zod';
import { identifierSchema, timestampSchema } from './common.schema';
import { pageCursorSchema } from './page.schema';
import { gpuInfoSchema, workerKindSchema } from './worker-heartbeat.schema';

/** A worker as `GET /v1/workers` shows it: its GPUs with the job holding each one. */
export const workerViewSchema = z
  .object({
    workerId: identifierSchema,
    hostname: z.string(),
    simulated: z.boolean(),
    lastSeenAt: timestampSchema,
    gpus: z.array(gpuInfoSchema.extend({ leasedBy: z.string().optional() })),
    /** The job kinds the worker runs, with their recipe versions. */
    kinds: z.array(workerKindSchema),
    activeJobs: z.array(z.string()),
    /** Where other workers reach it (node 0 of a multi-node job hosts the rendezvous there), and its topology label. */
    address: z.string().optional(),
    topology: z.string().optional(),
  })
  .strict()
  .meta({ id: 'WorkerView' });
export type WorkerView = z.infer<typeof workerViewSchema>;

/** `GET /v1/workers`, a page at a time. */
export const workerPageSchema = z.object({ workers: z.array(workerViewSchema), nextCursor: pageCursorSchema.optional() }).strict().meta({ id: 'WorkerPage' });
