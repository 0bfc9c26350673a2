import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/binaries';

const ESLINT = join(REPO_ROOT, 'node_modules/eslint/bin/eslint.js');
const NX = join(REPO_ROOT, 'node_modules/nx/dist/bin/nx.js');
const ENV = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };

/**
 * The project boundaries the lint enforces (Nx tags in each package.json, see eslint.config.mjs):
 * fixture sources placed in each kind of project, linted as if they were there.
 */
describe('module boundaries', () => {
  beforeAll(() => {
    // The rule reads Nx's cached project graph (a lint run makes it; here it is made first).
    const graph = spawnSync(process.execPath, [NX, 'show', 'projects'], { cwd: REPO_ROOT, encoding: 'utf8', env: ENV });
    if (graph.status !== 0) throw new Error(`nx could not compute the project graph: ${graph.stderr}`);
  });

  /** ESLint's verdict on `code` as if it were `file` (run as the lint target runs it, from the repository root). */
  async function boundaryErrors(file: string, code: string): Promise<string[]> {
    const run = spawnSync(process.execPath, [ESLINT, '--stdin', '--stdin-filename', join(REPO_ROOT, file), '--format', 'json'], {
      cwd: REPO_ROOT,
      input: code,
      encoding: 'utf8',
      env: ENV,
    });
    const [result] = JSON.parse(run.stdout) as { messages: { ruleId: string | null; message: string }[] }[];
    return result.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
  }

  it('refuses a service importing another service', async () => {
    const errors = await boundaryErrors('services/scheduler/src/boundary-fixture.ts', "import { GatewayConfig } from '@hounsfield/gateway';\nexport type T = GatewayConfig;\n");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/type:service.*type:lib|can only depend on libs tagged with "type:lib"/);
  });

  it('refuses a library importing a service', async () => {
    const errors = await boundaryErrors('libs/storage/src/boundary-fixture.ts', "import { SchedulerConfig } from '@hounsfield/scheduler';\nexport type T = SchedulerConfig;\n");
    expect(errors).toHaveLength(1);
  });

  it('refuses the contracts importing anything of ours', async () => {
    const errors = await boundaryErrors('libs/contracts/src/boundary-fixture.ts', "import { NatsClient } from '@hounsfield/messaging';\nexport type T = NatsClient;\n");
    expect(errors).toHaveLength(1);
  });

  it('lets services and libraries use libraries', async () => {
    expect(await boundaryErrors('services/gateway/src/boundary-fixture.ts', "import { JobSpec } from '@hounsfield/contracts';\nimport { NatsClient } from '@hounsfield/messaging';\nexport type T = [JobSpec, NatsClient];\n")).toEqual([]);
    expect(await boundaryErrors('libs/messaging/src/boundary-fixture.ts', "import { JobSpec } from '@hounsfield/contracts';\nexport type T = JobSpec;\n")).toEqual([]);
  });
});
