import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT, SERVICE_NODE_FLAGS } from '@hounsfield/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

describe('how the metrics service is started', () => {
  it('with the same V8 flags in deploy/compose.yaml as in the local stack and its benchmark (larger semi-spaces, fewer scavenges)', () => {
    const flags = SERVICE_NODE_FLAGS.metrics ?? [];
    expect(flags).toContain('--max-semi-space-size=32');
    const compose = readFileSync(join(REPO_ROOT, 'deploy/compose.yaml'), 'utf8');
    const service = compose.slice(compose.indexOf('\n  metrics:'), compose.indexOf('\n  evaluation:'));
    expect(service).toContain(`NODE_OPTIONS: "${flags.join(' ')}"`);
    const bench = readFileSync(join(REPO_ROOT, 'services/metrics/bench/ingest.bench.ts'), 'utf8');
    expect(bench).toContain('SERVICE_NODE_FLAGS.metrics');
  });
});
