import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { checkpointImportSchema, JobRecord } from '@hounsfield/contracts';
import Ajv2020 from 'ajv/dist/2020';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { python, REPO_ROOT, run, startCheckpointStack } from './checkpoints-fixture';
import { Fixture } from './stack-fixture';

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

/** The document's schemas as one JSON Schema: `#/components/schemas/X` becomes `components#/$defs/X`. */
function asDefs<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replace(/"#\/components\/schemas\//g, '"components#/$defs/')) as T;
}

/** Values that no route may answer with a 5xx: odd characters, traversal, control bytes, huge ids. */
const ODD_PARAMS = ['..%2F..%2Fetc%2Fpasswd', '%00', '%E2%80%AE', "x'%3B%20DROP", 'a'.repeat(5000), '%F0%9F%92%A5', '%ZZ', '%2E%2E', 'no-such-thing'];
const BAD_QUERIES = ['limit=-1', 'limit=abc', 'limit=1e308', 'cursor=!!', 'cursor=eyJ4IjoxfQ', 'unknown=1', 'limit=1&limit=2', 'state[x]=1'];
const BAD_BODIES: { what: string; body: string | Buffer; type?: string }[] = [
  { what: 'bad JSON', body: '{"name":' },
  { what: 'a JSON array', body: '[1,2,3]' },
  { what: 'wrong types', body: JSON.stringify({ name: 5, kind: [], role: 7, path: {}, user: null, graceSeconds: 'soon', checkpoints: 'x' }) },
  { what: 'huge numbers', body: JSON.stringify({ graceSeconds: 1e308, expiresInSeconds: -1e308, name: 'x'.repeat(100_000) }) },
  { what: 'a body over the limit', body: Buffer.alloc(2 * 1024 * 1024, 'a') },
  { what: 'text, not JSON', body: 'hello', type: 'text/plain' },
];

describe('the API contract on the stack: documented responses, malformed input answered 4xx', () => {
  let fixture: Fixture;
  let document: Document;
  let ajv: Ajv2020;
  let job: JobRecord;
  let importJob: JobRecord;

  let hostile: string;
  const call = (method: string, path: string, init: RequestInit = {}) => fixture.api(path, { method: method.toUpperCase(), ...init });
  /** As another admin token, so the malformed flood and the rate test do not drain the fixture's. */
  const callAs = (token: string, method: string, path: string, init: RequestInit = {}) =>
    fetch(`${fixture.stack.gatewayUrl}${path}`, { method: method.toUpperCase(), ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });

  /** Checks a JSON answer against the document's schema for its route and status (problems included). */
  async function conforms(method: string, template: string, response: Response): Promise<unknown> {
    const text = await response.text();
    const documented = document.paths[template][method].responses[String(response.status)] as { $ref?: string; content?: Record<string, { schema: object }> } | undefined;
    const content = documented?.$ref ? (document as unknown as { components: { responses: Record<string, { content: Record<string, { schema: object }> }> } }).components.responses.Problem.content : documented?.content;
    const media = content?.[documented?.$ref ? 'application/problem+json' : 'application/json'];
    expect({ route: `${method} ${template}`, status: response.status, documented: media !== undefined }).toEqual({ route: `${method} ${template}`, status: response.status, documented: true });
    const body = JSON.parse(text);
    const validate = ajv.compile(asDefs(media!.schema));
    expect({ route: `${method} ${template}`, errors: validate(body) ? null : validate.errors }).toEqual({ route: `${method} ${template}`, errors: null });
    return body;
  }

  beforeAll(async () => {
    fixture = await startCheckpointStack('contract-node');
    const response = await fetch(`${fixture.stack.gatewayUrl}/v1/openapi.json`);
    document = (await response.json()) as Document;
    ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    const components = (document as unknown as { components: { schemas: Record<string, object> } }).components.schemas;
    ajv.addSchema({ $id: 'components', $defs: asDefs(components) });
    job = await fixture.client.submitJob({
      name: 'contract',
      kind: 'script',
      script: { module: 'hounsfield.examples.count', args: ['--steps', '3'] },
      hyperparameters: { globalBatch: 1, baseLr: 1e-3 },
    });
    await run(python(), ['-c', 'import sys, torch; torch.save({"w": torch.ones(2)}, sys.argv[1])', join(fixture.dataDir, 'c.pth')], { cwd: REPO_ROOT });
    const posted = await call('post', '/v1/checkpoints/import?fileName=c.pth', { headers: { 'content-type': 'application/octet-stream' }, body: await readFile(join(fixture.dataDir, 'c.pth')) });
    importJob = await fixture.client.waitForState(checkpointImportSchema.parse(await posted.json()).jobId, ['succeeded', 'failed'], 120_000);
    await fixture.client.waitForState(job.id, ['succeeded', 'failed'], 120_000);
    hostile = (await fixture.client.createToken({ name: 'hostile' })).token;
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('answers every JSON route with the documented body', async () => {
    const checked: [string, string, string, RequestInit?][] = [
      ['get', '/healthz', '/healthz'],
      ['get', '/v1/whoami', '/v1/whoami'],
      ['get', '/v1/jobs', '/v1/jobs?limit=5'],
      ['get', '/v1/jobs/{id}', `/v1/jobs/${job.id}`],
      ['get', '/v1/jobs/{id}/metrics', `/v1/jobs/${job.id}/metrics`],
      ['post', '/v1/jobs/{id}/cancel', `/v1/jobs/${job.id}/cancel`, { headers: { 'content-type': 'application/json' }, body: '{}' }],
      ['get', '/v1/workers', '/v1/workers'],
      ['get', '/v1/queue', '/v1/queue'],
      ['get', '/v1/checkpoints', `/v1/checkpoints?job=${importJob.id}`],
      ['get', '/v1/checkpoints/{ref}', `/v1/checkpoints/${importJob.id}:latest`],
      ['get', '/v1/checkpoints/{ref}/download', `/v1/checkpoints/${importJob.id}:latest/download`],
      ['get', '/v1/code/{digest}', `/v1/code/sha256:${'0'.repeat(64)}`],
      ['get', '/v1/evaluations', '/v1/evaluations?limit=5'],
      ['post', '/v1/users', '/v1/users', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'carol', role: 'viewer' }) }],
      ['get', '/v1/users', '/v1/users?limit=1'],
      ['patch', '/v1/users/{name}', '/v1/users/carol', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'user' }) }],
      ['post', '/v1/tokens', '/v1/tokens', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'contract', user: 'carol', expiresInSeconds: 600 }) }],
      ['get', '/v1/tokens', '/v1/tokens'],
      ['post', '/v1/stream-tickets', '/v1/stream-tickets', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: `/v1/jobs/${job.id}/events` }) }],
      ['get', '/v1/openapi.json', '/v1/openapi.json'],
    ];
    for (const [method, template, path, init] of checked) await conforms(method, template, await call(method, path, init));
    const tokens = (await fixture.client.listTokens('carol')).map((t) => t.id);
    await conforms('delete', '/v1/tokens/{id}', await call('delete', `/v1/tokens/${tokens[0]}`));
    // Errors are documented problem+json too.
    await conforms('get', '/v1/jobs/{id}', await call('get', '/v1/jobs/no-such-job'));
    await conforms('get', '/v1/jobs', await fetch(`${fixture.stack.gatewayUrl}/v1/jobs`));
  });

  it('serves the docs page and its assets from the gateway, with no external URL', async () => {
    const page = await fetch(`${fixture.stack.gatewayUrl}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(references.length).toBeGreaterThanOrEqual(3);
    for (const reference of references) {
      expect(reference).not.toMatch(/^(https?:)?\/\//);
      const asset = await fetch(new URL(reference, `${fixture.stack.gatewayUrl}/docs`));
      expect({ reference, status: asset.status }).toEqual({ reference, status: 200 });
      if (reference.endsWith('.css')) expect((await asset.text()).match(/url\((?!["']?data:)[^)]*\)/g) ?? []).toEqual([]);
      if (reference.endsWith('init.js')) expect(await asset.text()).toMatch(/validatorUrl: null/);
    }
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });

  it('answers malformed input on every route with a 4xx problem+json, and keeps serving', async () => {
    const failures: string[] = [];
    // A fresh token every 150 requests: each stays within its burst, so no answer is a 429.
    let sent = 0;
    const call = async (method: string, path: string, init: RequestInit = {}) => {
      sent += 1;
      if (sent % 150 === 0) hostile = (await fixture.client.createToken({ name: `hostile-${sent}` })).token;
      return callAs(hostile, method, path, init);
    };
    const expect4xx = async (what: string, response: Response) => {
      const type = response.headers.get('content-type') ?? '';
      await response.arrayBuffer();
      if (response.status < 400 || response.status >= 500 || !type.startsWith('application/problem+json')) failures.push(`${what}: ${response.status} ${type}`);
    };
    for (const [template, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        if (template === '/docs/{asset}' || template === '/healthz') continue;
        const params = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        const concrete = template.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'id' ? job.id : name === 'ref' ? `${importJob.id}:latest` : name === 'name' ? 'carol' : 'csv'));
        for (const odd of params.length ? ODD_PARAMS : []) {
          const path = template.replace(/\{(\w+)\}/g, odd);
          await expect4xx(`${method} ${path.slice(0, 80)}`, await call(method, path));
        }
        if (operation.parameters?.some((p) => p.in === 'query' && p.name !== 'ticket')) {
          for (const query of BAD_QUERIES) {
            await expect4xx(`${method} ${concrete}?${query}`, await call(method, `${concrete}?${query}`));
          }
        }
        if (operation.requestBody && !template.endsWith('/import')) {
          for (const { what, body, type } of BAD_BODIES) {
            await expect4xx(`${method} ${concrete} with ${what}`, await call(method, concrete, { headers: { 'content-type': type ?? 'application/json' }, body }));
          }
        }
      }
    }
    // The import's body is a file: a missing or absurd length, an odd name.
    await expect4xx('import without a length', await call('post', '/v1/checkpoints/import?fileName=x.pth', { body: new ReadableStream({ start: (c) => c.close() }), duplex: 'half' } as RequestInit));
    await expect4xx('import with a negative step', await call('post', '/v1/checkpoints/import?fileName=x.pth&step=-1', { body: 'xx' }));
    await expect4xx('import with a slash in the name', await call('post', '/v1/checkpoints/import?fileName=..%2Fx', { body: 'xx' }));
    await expect4xx('an unknown route', await call('get', '/v1/nothing-here'));
    expect(failures).toEqual([]);
    const health = await fetch(`${fixture.stack.gatewayUrl}/healthz`);
    expect(health.status).toBe(200);
    expect((await fixture.client.getJob(job.id)).id).toBe(job.id);
  });

  it('limits each token\'s rate with 429 and Retry-After', async () => {
    const token = (await fixture.client.createToken({ name: 'bursty' })).token;
    const burst = await Promise.all(Array.from({ length: 260 }, () => callAs(token, 'get', '/v1/whoami')));
    const limited = burst.filter((r) => r.status === 429);
    await Promise.all(burst.map((r) => r.arrayBuffer()));
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0].headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited[0].headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
