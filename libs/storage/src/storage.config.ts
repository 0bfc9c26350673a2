import { resolve } from 'node:path';
import { z } from 'zod';
import { StorageError } from './storage.errors';

const MiB = 1024 * 1024;
/** Where the embedded (fs) store keeps objects when HOUNSFIELD_STORAGE_ROOT is unset: the local stack's data directory. */
export const DEFAULT_FS_ROOT = '.hounsfield/objects';
export const DEFAULT_S3_REGION = 'us-east-1';
/** 16 MiB parts: one part is the most a put holds in memory, and 10 000 of them still allow 156 GiB. */
export const DEFAULT_PART_SIZE = 16 * MiB;

const endpointSchema = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && (url.pathname === '/' || url.pathname === '') && !url.search;
    } catch {
      return false;
    }
  },
  { message: 'an http(s) URL without a path, such as http://127.0.0.1:9000 or https://s3.eu-central-1.amazonaws.com' },
);
const regionSchema = z.string().regex(/^[a-z0-9-]+$/, 'a region such as us-east-1');
// S3's bucket naming rules (the subset every provider accepts).
const bucketSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a bucket name: 3-63 lower-case letters, digits, dots and hyphens');
const credentialSchema = z.string().min(1, 'must not be empty');
const rootSchema = z.string().min(1, 'a directory path');
/** S3 allows parts of 5 MiB to 5 GiB (the last part may be smaller). */
const partSizeSchema = z.number().int().min(5 * MiB).max(5 * 1024 * MiB);

export const fsStorageConfigSchema = z.object({
  driver: z.literal('fs'),
  /** The directory that holds the objects; relative paths resolve against the working directory. */
  root: rootSchema,
});

export const s3StorageConfigSchema = z.object({
  driver: z.literal('s3'),
  endpoint: endpointSchema,
  region: regionSchema.default(DEFAULT_S3_REGION),
  bucket: bucketSchema,
  accessKey: credentialSchema,
  secretKey: credentialSchema,
  /** `http://host/bucket/key` rather than `http://bucket.host/key`: MinIO and moto need it; AWS prefers false. */
  pathStyle: z.boolean().default(true),
  /** Multipart upload part size in bytes; bodies up to one part go up in a single request. */
  partSize: partSizeSchema.default(DEFAULT_PART_SIZE),
});

export const storageConfigSchema = z.discriminatedUnion('driver', [fsStorageConfigSchema, s3StorageConfigSchema]);
export type StorageConfig = z.infer<typeof storageConfigSchema>;
export type StorageConfigInput = z.input<typeof storageConfigSchema>;
export type FsStorageConfig = z.infer<typeof fsStorageConfigSchema>;
export type S3StorageConfig = z.infer<typeof s3StorageConfigSchema>;

/** Validates a config object (from code or tests); throws InvalidConfig listing each bad field. */
export function parseStorageConfig(input: unknown): StorageConfig {
  const parsed = storageConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw StorageError.invalidConfig(
    `invalid storage configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.') || 'driver'}: ${i.message}`).join('\n')}`,
  );
}

// Unset and empty variables are the same thing: compose files often write `HOUNSFIELD_S3_REGION=`.
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema);
const envBoolean = z.enum(['true', 'false', '1', '0'], 'true or false').transform((v) => v === 'true' || v === '1');

const driverEnvSchema = z.object({
  HOUNSFIELD_STORAGE_DRIVER: optional(z.enum(['fs', 's3'], 'fs or s3').default('fs')),
});
const fsEnvSchema = z.object({
  HOUNSFIELD_STORAGE_ROOT: optional(rootSchema.default(DEFAULT_FS_ROOT)),
});
const s3EnvSchema = z.object({
  HOUNSFIELD_S3_ENDPOINT: optional(endpointSchema),
  HOUNSFIELD_S3_REGION: optional(regionSchema.default(DEFAULT_S3_REGION)),
  HOUNSFIELD_S3_BUCKET: optional(bucketSchema),
  HOUNSFIELD_S3_ACCESS_KEY: optional(credentialSchema),
  HOUNSFIELD_S3_SECRET_KEY: optional(credentialSchema),
  HOUNSFIELD_S3_PATH_STYLE: optional(envBoolean.default(true)),
});
/** Never echoed back in an error message. */
const SECRET_VARIABLES = new Set(['HOUNSFIELD_S3_ACCESS_KEY', 'HOUNSFIELD_S3_SECRET_KEY']);

/**
 * Reads the storage settings from the environment, once at boot. The fs driver is the default
 * (the embedded single-machine stack); `HOUNSFIELD_STORAGE_DRIVER=s3` needs the HOUNSFIELD_S3_*
 * variables. A bad or missing value throws InvalidConfig naming the variable (secrets are not echoed).
 */
export function storageConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StorageConfig {
  const { HOUNSFIELD_STORAGE_DRIVER: driver } = parseEnvPart(driverEnvSchema, env);
  if (driver === 'fs') {
    const vars = parseEnvPart(fsEnvSchema, env);
    return { driver, root: resolve(vars.HOUNSFIELD_STORAGE_ROOT) };
  }
  const vars = parseEnvPart(s3EnvSchema, env);
  return parseStorageConfig({
    driver,
    endpoint: vars.HOUNSFIELD_S3_ENDPOINT,
    region: vars.HOUNSFIELD_S3_REGION,
    bucket: vars.HOUNSFIELD_S3_BUCKET,
    accessKey: vars.HOUNSFIELD_S3_ACCESS_KEY,
    secretKey: vars.HOUNSFIELD_S3_SECRET_KEY,
    pathStyle: vars.HOUNSFIELD_S3_PATH_STYLE,
  });
}

function parseEnvPart<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0]);
    const value = env[variable];
    const got = value === undefined || value === '' ? 'unset' : SECRET_VARIABLES.has(variable) ? 'got a value' : `got ${JSON.stringify(value)}`;
    const message = value === undefined || value === '' ? 'required' : issue.message;
    return `  ${variable}: ${message} (${got})`;
  });
  throw StorageError.invalidConfig(`invalid storage configuration in the environment:\n${lines.join('\n')}`);
}
