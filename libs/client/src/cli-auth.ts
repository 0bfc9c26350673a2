import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiRoleSchema } from '@hounsfield/contracts';
import { HounsfieldClient } from './http-client';

/**
 * The token the CLI sends: HOUNSFIELD_TOKEN, else the local stack's admin token
 * (`$HOUNSFIELD_HOME/admin-token`, `.hounsfield/admin-token` by default), which `npm start` writes.
 */
export function cliToken(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env.HOUNSFIELD_TOKEN) return env.HOUNSFIELD_TOKEN;
  const file = join(env.HOUNSFIELD_HOME ?? join(cwd, '.hounsfield'), 'admin-token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/** `hounsfield token …`: create (secret printed once), list, revoke. */
export async function tokenCommand(client: HounsfieldClient, args: string[]): Promise<number | undefined> {
  const [action, arg] = args;
  if (action === 'create' && arg) {
    const expires = option(args, '--expires-in');
    const created = await client.createToken({ name: arg, user: option(args, '--user'), ...(expires ? { expiresInSeconds: Number(expires) } : {}) });
    console.log(`${created.id} for ${created.user}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}; the token (shown once):`);
    console.log(created.token);
    return 0;
  }
  if (action === 'list') {
    for (const t of await client.listTokens(option(args, '--user'))) {
      const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : 'no expiry';
      console.log(`${t.id}  ${t.user.padEnd(16)} ${t.name.padEnd(20)} created ${t.createdAt}  ${state}`);
    }
    return 0;
  }
  if (action === 'revoke' && arg) {
    const revoked = await client.revokeToken(arg);
    console.log(`${revoked.id} revoked at ${revoked.revokedAt}`);
    return 0;
  }
  return undefined;
}

/** `hounsfield user …` (admins): create, list, set-role, disable, enable. */
export async function userCommand(client: HounsfieldClient, args: string[]): Promise<number | undefined> {
  const [action, name, role] = args;
  if (action === 'create' && name && role) {
    const user = await client.createUser(name, apiRoleSchema.parse(role));
    console.log(`user ${user.name} (${user.role}) created; give it a token: hounsfield token create <name> --user ${user.name}`);
    return 0;
  }
  if (action === 'list') {
    for (const u of await client.listUsers()) console.log(`${u.name.padEnd(16)} ${u.role.padEnd(7)} ${u.disabled ? 'disabled' : 'active'}  created ${u.createdAt}`);
    return 0;
  }
  if (action === 'set-role' && name && role) {
    const user = await client.updateUser(name, { role: apiRoleSchema.parse(role) });
    console.log(`user ${user.name} is now ${user.role}`);
    return 0;
  }
  if ((action === 'disable' || action === 'enable') && name) {
    const user = await client.updateUser(name, { disabled: action === 'disable' });
    console.log(`user ${user.name} ${user.disabled ? 'disabled: its tokens stop working now' : 'enabled'}`);
    return 0;
  }
  return undefined;
}
