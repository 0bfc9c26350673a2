import { z } from 'zod';
import { userNameSchema } from './api-principal.schema';
import { checkpointRecordSchema } from './checkpoint-record.schema';
import { pageCursorSchema } from './page.schema';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { accessGrantSchema } from './checkpoint-grant.schema';
import { checkpointManifestSchema } from './checkpoint-manifest.schema';
import { checkpointFileNameSchema } from './checkpoint-meta.schema';
import { checkpointIdSchema, checkpointRefSchema, qualifiedCheckpointRefSchema } from './checkpoint-ref.schema';
import { checkpointPolicySchema, legacyCheckpointFormatSchema } from './job-spec.schema';

/** Requests and replies of the checkpoints service (subjects in `RPC.checkpoints*`). */

const fileAnnouncementSchema = z.object({ name: checkpointFileNameSchema, size: z.number().int().min(0) }).strict();

/** A worker announces a checkpoint directory it is about to upload. */
export const checkpointUploadRequestSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    step: z.number().int().min(0),
    files: z
      .array(fileAnnouncementSchema)
      .min(1)
      .max(256)
      .refine((files) => new Set(files.map((f) => f.name)).size === files.length, 'file names must be unique'),
  })
  .strict()
  .meta({ id: 'CheckpointUploadRequest' });
export type CheckpointUploadRequest = z.infer<typeof checkpointUploadRequestSchema>;

/** The upload's id (the checkpoint id once committed) and how each file is cut into parts. */
export const checkpointUploadSessionSchema = z
  .object({
    uploadId: checkpointIdSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    step: z.number().int().min(0),
    /** Every part but a file's last has exactly this many bytes. */
    partSize: z.number().int().min(1),
    /** Uncommitted uploads are deleted after this time. */
    expiresAt: timestampSchema,
    files: z.array(fileAnnouncementSchema.extend({ parts: z.number().int().min(1) }).strict()),
  })
  .strict()
  .meta({ id: 'CheckpointUploadSession' });
export type CheckpointUploadSession = z.infer<typeof checkpointUploadSessionSchema>;

/** One part of one file of an upload (for an upload grant) or of a committed checkpoint (download). */
export const checkpointPartRequestSchema = z
  .object({
    v: schemaVersionSchema,
    id: checkpointIdSchema,
    file: checkpointFileNameSchema,
    part: z.number().int().min(0),
  })
  .strict()
  .meta({ id: 'CheckpointPartRequest' });
export type CheckpointPartRequest = z.infer<typeof checkpointPartRequestSchema>;

/**
 * A part is in the store: the service reads it now (checking its size, hashing it into its file's
 * running sha256) while the worker uploads the next one, so the commit has (almost) nothing left
 * to read. Report the parts of a file in order.
 */
export const checkpointPartUploadedSchema = z
  .object({
    v: schemaVersionSchema,
    uploadId: checkpointIdSchema,
    file: checkpointFileNameSchema,
    part: z.number().int().min(0),
    size: z.number().int().min(0),
  })
  .strict()
  .meta({ id: 'CheckpointPartUploaded' });
export type CheckpointPartUploaded = z.infer<typeof checkpointPartUploadedSchema>;

export const checkpointPartVerifiedSchema = z
  .object({ file: checkpointFileNameSchema, part: z.number().int().min(0), verified: z.literal(true) })
  .strict()
  .meta({ id: 'CheckpointPartVerified' });

/** Retention of a job's checkpoints, as the job spec states it. */
export const checkpointRetentionSchema = checkpointPolicySchema.pick({ keepLast: true, keepBest: true, keepEvery: true });
export type CheckpointRetention = z.infer<typeof checkpointRetentionSchema>;

export const checkpointCommitRequestSchema = z
  .object({
    v: schemaVersionSchema,
    uploadId: checkpointIdSchema,
    manifest: checkpointManifestSchema,
    retention: checkpointRetentionSchema,
  })
  .strict()
  .meta({ id: 'CheckpointCommitRequest' });
export type CheckpointCommitRequest = z.infer<typeof checkpointCommitRequestSchema>;

/**
 * Finds a committed checkpoint: `ref` alone when it is qualified (`<job>:latest`) or an id, else
 * `jobId` + `ref`. The answer is pinned for `pinSeconds`: retention does not delete its bytes
 * before then, so a download that follows cannot lose the race against a concurrent commit.
 */
export const checkpointResolveRequestSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema.optional(),
    ref: z.union([checkpointRefSchema, qualifiedCheckpointRefSchema]),
    pinSeconds: z.number().int().min(1).max(7 * 24 * 3600).optional(),
  })
  .strict()
  .meta({ id: 'CheckpointResolveRequest' });
export type CheckpointResolveRequest = z.infer<typeof checkpointResolveRequestSchema>;

/** A job's committed checkpoints, latest first, one page at a time. */
export const checkpointListRequestSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema,
    limit: z.number().int().min(1).max(1000).default(100),
    cursor: pageCursorSchema.optional(),
  })
  .strict();
export type CheckpointListRequest = z.infer<typeof checkpointListRequestSchema>;

export const checkpointPageSchema = z
  .object({ checkpoints: z.array(checkpointRecordSchema), nextCursor: pageCursorSchema.optional() })
  .strict()
  .meta({ id: 'CheckpointPage' });
export type CheckpointPage = z.infer<typeof checkpointPageSchema>;

/** A legacy file to import: the gateway stores the bytes through the grant in the reply. */
export const checkpointImportUploadRequestSchema = z
  .object({
    v: schemaVersionSchema,
    fileName: z.string().min(1).max(256),
    size: z.number().int().min(1),
  })
  .strict();

export const checkpointImportUploadSchema = z
  .object({ importId: identifierSchema, grant: accessGrantSchema })
  .strict();

/** Starts converting an uploaded legacy file (a CPU job on a worker; its checkpoint is the result). */
export const checkpointImportStartRequestSchema = z
  .object({
    v: schemaVersionSchema,
    importId: identifierSchema,
    format: legacyCheckpointFormatSchema.default('auto'),
    /** Step recorded for the imported checkpoint when the file does not say (Lightning files do). */
    step: z.number().int().min(0).optional(),
    /** The API user the import job and its checkpoint are recorded for. */
    owner: userNameSchema.optional(),
  })
  .strict();
export type CheckpointImportStartRequest = z.infer<typeof checkpointImportStartRequestSchema>;

/** An accepted import: follow `jobId`; its committed checkpoint is the imported one. */
export const checkpointImportSchema = z
  .object({
    importId: identifierSchema,
    jobId: identifierSchema,
    fileName: z.string().min(1).max(256),
    format: legacyCheckpointFormatSchema,
  })
  .strict()
  .meta({ id: 'CheckpointImport' });
export type CheckpointImport = z.infer<typeof checkpointImportSchema>;

/**
 * A `checkpoint_import` task asks for a read grant of its legacy file (`WORKER_RPC.checkpointsImportSource`);
 * only the worker its job runs on gets one.
 */
export const checkpointImportSourceRequestSchema = z
  .object({ v: schemaVersionSchema, importId: identifierSchema, jobId: identifierSchema })
  .strict()
  .meta({ id: 'CheckpointImportSourceRequest' });
export type CheckpointImportSourceRequest = z.infer<typeof checkpointImportSourceRequestSchema>;

/** The evaluation service reports on a checkpoint's auto-evaluation; the reply is the updated record. */
export const checkpointEvaluationUpdateSchema = z
  .object({
    v: schemaVersionSchema,
    checkpointId: checkpointIdSchema,
    state: z.enum(['skipped', 'running', 'succeeded', 'failed']),
    evaluationId: identifierSchema.optional(),
    /** With `succeeded`: the means, named `eval.<metric>`. */
    metrics: z.record(z.string().min(1).max(128), z.number()).optional(),
    reason: z.string().max(2000).optional(),
  })
  .strict()
  .meta({ id: 'CheckpointEvaluationUpdate' });
export type CheckpointEvaluationUpdate = z.infer<typeof checkpointEvaluationUpdateSchema>;
