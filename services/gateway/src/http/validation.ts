import { z } from 'zod';
import { ProblemException, problemFor } from './problem';

/** Validates a request part; failures become a 400 problem listing each field path. */
export function validateOr400<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message }));
  throw new ProblemException(
    problemFor('invalid_request', `${what} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors }),
  );
}
