import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT, SERVICE_ENV, SERVICE_NODE_FLAGS } from '@hounsfield/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

describe('how the checkpoint service is started', () => {
  const compose = readFileSync(join(REPO_ROOT, 'deploy/compose.yaml'), 'utf8');
  const service = compose.slice(compose.indexOf('\n  checkpoints:'), compose.indexOf('\n  metrics:'));

  it('with the same V8 flags in deploy/compose.yaml as in the local stack (what bounds its memory)', () => {
    const flags = SERVICE_NODE_FLAGS.checkpoints ?? [];
    expect(flags).toEqual(expect.arrayContaining(['--max-semi-space-size=1', '--expose-gc']));
    expect(service).toContain(`NODE_OPTIONS: "${flags.join(' ')}"`);
  });

  it('with the same malloc settings in deploy/compose.yaml as in the local stack', () => {
    const env = Object.entries(SERVICE_ENV.checkpoints ?? {});
    expect(env).toContainEqual(['MALLOC_MMAP_THRESHOLD_', '65536']);
    for (const [name, value] of env) expect(service).toContain(`${name}: "${value}"`);
  });
});
