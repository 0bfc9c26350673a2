import { afterAll, describe, expect, it } from '@jest/globals';
import { HounsfieldClient } from '@hounsfield/client';
import { freePort, REPO_ROOT } from '@hounsfield/testing';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm start` as a user meets it (scripts/stack.ts, without the bootstrap that `npm start` runs
 * first): a port clash, and a clean run that writes only under HOUNSFIELD_HOME.
 */
const PORT_VARIABLES = ['NATS', 'REDIS', 'HTTP', 'SCHEDULER', 'CHECKPOINTS', 'METRICS', 'EVALUATION'].map((name) => `HOUNSFIELD_${name}_PORT`);

async function portEnv(): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const variable of PORT_VARIABLES) env[variable] = String(await freePort());
  return env;
}

function startStack(home: string, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'scripts/stack.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOUNSFIELD_HOME: home, HOUNSFIELD_WORKER_ID: 'home-test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * What a stack could leave in the checkout: git's view (tracked changes, untracked files, and a
 * new ignored path as a `!!` line), and every file under the default data directory `.hounsfield/`.
 */
function checkoutState(): string {
  const git = execFileSync('git', ['status', '--porcelain', '--ignored'], { cwd: REPO_ROOT, encoding: 'utf8' });
  const local = join(REPO_ROOT, '.hounsfield');
  const files = existsSync(local) ? (readdirSync(local, { recursive: true }) as string[]).sort().join('\n') : '';
  return `${git}\n--- .hounsfield/\n${files}`;
}

describe('npm start', () => {
  const homes: string[] = [];
  const home = () => {
    const dir = mkdtempSync(join(tmpdir(), 'hf-home-'));
    homes.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of homes) rmSync(dir, { recursive: true, force: true });
  });

  it('fails within seconds naming a taken port and its variable, and leaves no process behind', async () => {
    const env = await portEnv();
    const squatter: Server = createServer().listen(Number(env.HOUNSFIELD_HTTP_PORT), '127.0.0.1');
    try {
      const started = Date.now();
      const stack = startStack(home(), env);
      const code = await stack.exited;
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(code).not.toBe(0);
      expect(stack.output()).toContain(`port ${env.HOUNSFIELD_HTTP_PORT} is in use (set HOUNSFIELD_HTTP_PORT to another port)`);
      for (const variable of PORT_VARIABLES.filter((v) => v !== 'HOUNSFIELD_HTTP_PORT')) {
        expect(await listening(Number(env[variable]))).toBe(false);
      }
    } finally {
      squatter.close();
    }
  });

  it('runs a job and stops leaving the checkout as it was, with everything it wrote under HOUNSFIELD_HOME', async () => {
    const before = checkoutState();
    const dir = home();
    const env = await portEnv();
    const stack = startStack(dir, env);
    try {
      const deadline = Date.now() + 150_000;
      while (!stack.output().includes('running; press Ctrl-C to stop')) {
        if (Date.now() > deadline) throw new Error(`the stack did not come up:\n${stack.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const client = new HounsfieldClient({
        baseUrl: `http://127.0.0.1:${env.HOUNSFIELD_HTTP_PORT}`,
        token: readFileSync(join(dir, 'admin-token'), 'utf8').trim(),
      });
      const job = await client.submitJob({
        name: 'home-test',
        kind: 'script',
        script: { module: 'hounsfield.examples.count', args: ['--steps', '3', '--sleep', '0'] },
        resources: { gpus: 0 },
        hyperparameters: { globalBatch: 8, baseLr: 0.001 },
      });
      expect((await client.waitForState(job.id, ['succeeded', 'failed'])).state).toBe('succeeded');
    } finally {
      stack.child.kill('SIGINT');
      await stack.exited;
    }
    expect(checkoutState()).toBe(before);
    // The job's shipped log went to the object store, which lives in the home too.
    expect(existsSync(join(dir, 'objects'))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(expect.arrayContaining(['admin-token', 'logs', 'nats', 'objects', 'redis', 'secrets', 'workers']));
  }, 240_000);
});
