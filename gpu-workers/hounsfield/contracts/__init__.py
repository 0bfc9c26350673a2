"""Message models and subject names generated from `libs/contracts` (the TypeScript zod schemas)."""
