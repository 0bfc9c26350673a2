import { z } from 'zod';
import { apiRoleSchema, userNameSchema } from './api-principal.schema';
import { timestampSchema } from './common.schema';
import { pageCursorSchema } from './page.schema';

/** An API user; its tokens carry its role, so changing the role changes what every token may do at once. */
export const apiUserSchema = z
  .object({
    name: userNameSchema,
    role: apiRoleSchema,
    createdAt: timestampSchema,
    /** A disabled user's tokens stop working immediately; its jobs and checkpoints stay. */
    disabled: z.boolean(),
  })
  .strict()
  .meta({ id: 'ApiUser' });
export type ApiUser = z.infer<typeof apiUserSchema>;

export const userPageSchema = z.object({ users: z.array(apiUserSchema), nextCursor: pageCursorSchema.optional() }).strict().meta({ id: 'UserPage' });

/** `POST /v1/users` (admin). */
export const createUserRequestSchema = z.object({ name: userNameSchema, role: apiRoleSchema }).strict().meta({ id: 'CreateUserRequest' });

/** `PATCH /v1/users/:name` (admin): a new role, or disabled/enabled. */
export const updateUserRequestSchema = z
  .object({ role: apiRoleSchema.optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((update) => update.role !== undefined || update.disabled !== undefined, 'give role or disabled')
  .meta({ id: 'UpdateUserRequest' });
