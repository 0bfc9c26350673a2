import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT, SERVICE_NODE_FLAGS } from '@hounsfield/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

describe('how the checkpoint service is started', () => {
  it('with the same V8 flags in deploy/compose.yaml as in the local stack (small semi-spaces bound its memory)', () => {
    const flags = SERVICE_NODE_FLAGS.checkpoints ?? [];
    expect(flags).toContain('--max-semi-space-size=1');
    const compose = readFileSync(join(REPO_ROOT, 'deploy/compose.yaml'), 'utf8');
    const service = compose.slice(compose.indexOf('\n  checkpoints:'), compose.indexOf('\n  metrics:'));
    expect(service).toContain(`NODE_OPTIONS: "${flags.join(' ')}"`);
  });
});
