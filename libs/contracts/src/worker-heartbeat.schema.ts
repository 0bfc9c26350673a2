import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';

export const gpuInfoSchema = z
  .object({
    index: z.number().int().min(0),
    uuid: z.string().min(1).max(128),
    name: z.string().min(1).max(128),
    memoryTotalBytes: z.number().int().min(0),
    memoryUsedBytes: z.number().int().min(0),
    utilizationPercent: z.number().min(0).max(100),
    temperatureCelsius: z.number().min(-50).max(200),
    powerWatts: z.number().min(0).optional(),
    /** Memory on this GPU is held by processes the platform did not start. */
    foreignProcesses: z.boolean(),
  })
  .strict()
  .meta({ id: 'GpuInfo' });
export type GpuInfo = z.infer<typeof gpuInfoSchema>;

/** A job kind this worker's installation can run, with the version of its recipe. */
export const workerKindSchema = z
  .object({
    kind: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_]*$/, 'a job kind such as pcdiff'),
    version: z.string().min(1).max(32),
  })
  .strict()
  .meta({ id: 'WorkerKind' });
export type WorkerKind = z.infer<typeof workerKindSchema>;

/** A worker's periodic registration and telemetry. Its first heartbeat registers it. */
export const workerHeartbeatSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('heartbeat'),
    workerId: identifierSchema,
    hostname: z.string().max(256),
    /** GPUs are simulated (HOUNSFIELD_FAKE_GPUS); trainers then run on the CPU. */
    simulated: z.boolean(),
    gpus: z.array(gpuInfoSchema).max(64),
    /** The job kinds this worker can run (its recipes that import, and `script`). */
    kinds: z.array(workerKindSchema).max(64).default([]),
    /**
     * CPU processes this worker runs at once (HOUNSFIELD_CPU_SLOTS; default: the cores it may use).
     * CPU jobs (trainings, evaluation shards, checkpoint imports) take one slot per process and
     * are placed only where enough are free. Absent (older agents): not limited.
     */
    cpuSlots: z.number().int().min(1).max(4096).optional(),
    /**
     * Where other workers reach this one (HOUNSFIELD_WORKER_ADDRESS; default: the host's address):
     * node 0 of a multi-node job hosts torchrun's c10d rendezvous there.
     */
    address: z.string().min(1).max(255).optional(),
    /** Ports this worker keeps free for rendezvous (HOUNSFIELD_RENDEZVOUS_PORTS, `first-last`). */
    rendezvousPorts: z
      .object({ first: z.number().int().min(1).max(65535), last: z.number().int().min(1).max(65535) })
      .strict()
      .refine((range) => range.first <= range.last, 'first must not be above last')
      .optional(),
    /** Rack or network domain (HOUNSFIELD_TOPOLOGY): the nodes of one job prefer workers that share it. */
    topology: z.string().min(1).max(128).optional(),
    /** Host memory in bytes (from /proc/meminfo), for people and placement notes. */
    memoryTotalBytes: z.number().int().min(0).optional(),
    memoryAvailableBytes: z.number().int().min(0).optional(),
    /** Keys of the per-job environments cached on this worker (GPU placement prefers them). */
    environments: z.array(z.string().regex(/^[0-9a-f]{8,64}$/)).max(1024).optional(),
    /** Jobs whose environment this worker is building now (their environment phase). */
    environmentBuilds: z.array(identifierSchema).max(256).optional(),
    /** Attempts this worker is running now. */
    running: z.array(z.object({ jobId: identifierSchema, attempt: z.number().int().min(1) }).strict()).max(256),
    /** Seconds between heartbeats; the scheduler declares the worker dead after a few missed ones. */
    intervalSeconds: z.number().positive().max(3600),
    at: timestampSchema,
  })
  .strict()
  .meta({ id: 'WorkerHeartbeat' });
export type WorkerHeartbeat = z.infer<typeof workerHeartbeatSchema>;
