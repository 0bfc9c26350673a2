/** Version of every message shape in this package. A consumer rejects messages of another version. */
export const SCHEMA_VERSION = 1 as const;
