import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { accessGrantSchema } from './checkpoint-grant.schema';

/**
 * A user's project, uploaded once as a tar archive and stored content-addressed
 * (`code/<sha256>.tar` in the object store): `hounsfield submit --code DIR` packs it, the
 * gateway stores it, the worker running the job fetches it over its own channel, checks the
 * digest and unpacks it into the attempt directory, from where every rank runs the script module.
 */
export const codeDigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 lower-case hex digits>, as `hounsfield submit --code` records it');

export const codeReferenceSchema = z
  .object({
    digest: codeDigestSchema,
    /** The repository's HEAD when the directory was packed (absent outside a git repository). */
    gitCommit: z.string().regex(/^[0-9a-f]{7,64}$/, 'a git commit hash').optional(),
    /** The packed tree differed from that commit (uncommitted changes). */
    dirty: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'CodeReference' });
export type CodeReference = z.infer<typeof codeReferenceSchema>;

/**
 * A per-job Python environment: a virtual environment layered on the worker's installation
 * (`--system-site-packages`, so PyTorch and `hounsfield` come from the worker), cached on the
 * worker by the hash of its requirements and built before the trainer starts. A `requirements.txt`
 * at the top of the uploaded code adds its lines after these. A GPU job's environment is built
 * before any GPU is leased (see `JobEnvironmentStatus`).
 */
export const jobEnvironmentSchema = z
  .object({
    /** pip requirement lines, such as `einops==0.8.0` or `my-lab-utils>=1.2`. */
    requirements: z
      .array(
        z
          .string()
          .min(1)
          .max(512)
          .regex(/^[^\r\n]+$/, 'one requirement per entry, without line breaks'),
      )
      .max(256)
      .default([]),
  })
  .strict()
  .meta({ id: 'JobEnvironment' });
export type JobEnvironment = z.infer<typeof jobEnvironmentSchema>;

/** The worker's cache key of a per-job environment: a hash of its requirement lines and the worker's Python. */
export const environmentKeySchema = z.string().regex(/^[0-9a-f]{8,64}$/, 'an environment key: lower-case hex digits');

/**
 * A GPU job's environment phase (a `script` job with uploaded code or requirements): before any
 * GPU is leased, the scheduler places the build on a worker as CPU work (one CPU slot), and the
 * job stays `queued` meanwhile. `building`: the worker fetches the code and builds (or finds
 * cached) the environment; `ready`: built (GPU placement then prefers workers whose heartbeats
 * list `key`); a failed build ends the job `failed` with kind `environment`, never retried.
 */
export const jobEnvironmentStatusSchema = z
  .object({
    state: z.enum(['building', 'ready']),
    /** The worker that builds (built) it. */
    workerId: identifierSchema,
    /** The cache key (absent when there was nothing to install: no requirements). */
    key: environmentKeySchema.optional(),
    /** It was cached on the worker already (nothing was installed). */
    cached: z.boolean().optional(),
    /** When the build was placed, and when the worker reported it ready. */
    requestedAt: timestampSchema,
    readyAt: timestampSchema.optional(),
    /** The build order's id, so a report of an earlier build (withdrawn, placed again) is ignored. */
    buildId: z.string().min(1).max(128),
  })
  .strict()
  .meta({ id: 'JobEnvironmentStatus' });
export type JobEnvironmentStatus = z.infer<typeof jobEnvironmentStatusSchema>;

/** Worker → scheduler: how a job's environment build (an assignment with `phase: environment`) ended. */
export const environmentEventSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('environment'),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    workerId: identifierSchema,
    /** The build order's id (the assignment's `assignmentId`). */
    buildId: z.string().min(1).max(128),
    outcome: z.enum(['ready', 'failed', 'cancelled']),
    key: environmentKeySchema.optional(),
    cached: z.boolean().optional(),
    /** Why it failed: for pip, its exit code and the end of its output. */
    reason: z.string().max(4096).optional(),
    /** `environment` (pip failed: the job fails, not retried), `infrastructure` (the worker's fault: built again), `preflight` (the code archive is unusable: the job fails). */
    failureKind: z.enum(['environment', 'infrastructure', 'preflight']).optional(),
    at: timestampSchema,
  })
  .strict()
  .meta({ id: 'EnvironmentEvent' });
export type EnvironmentEvent = z.infer<typeof environmentEventSchema>;

/** Gateway → checkpoints service: is this archive stored already? */
export const codeStatRequestSchema = z.object({ v: schemaVersionSchema, digest: codeDigestSchema }).strict();
export const codeStatSchema = z.object({ digest: codeDigestSchema, stored: z.boolean(), size: z.number().int().min(0).optional() }).strict();
export type CodeStat = z.infer<typeof codeStatSchema>;

/** Gateway → checkpoints service: a grant to stage an upload (none when the archive is already stored). */
export const codeUploadRequestSchema = z.object({ v: schemaVersionSchema, digest: codeDigestSchema }).strict();
export const codeUploadSchema = z
  .object({ stored: z.boolean(), uploadId: identifierSchema.optional(), grant: accessGrantSchema.optional() })
  .strict();
export type CodeUpload = z.infer<typeof codeUploadSchema>;

/** Gateway → checkpoints service: the staged bytes are in place; the service hashes them and files them under the digest. */
export const codeCommitRequestSchema = z.object({ v: schemaVersionSchema, digest: codeDigestSchema, uploadId: identifierSchema }).strict();

/** A worker asks for a read grant of the code of a job placed on it. */
export const codeSourceRequestSchema = z
  .object({ v: schemaVersionSchema, jobId: identifierSchema, digest: codeDigestSchema })
  .strict()
  .meta({ id: 'CodeSourceRequest' });
export type CodeSourceRequest = z.infer<typeof codeSourceRequestSchema>;
