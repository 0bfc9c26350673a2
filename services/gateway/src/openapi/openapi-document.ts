import { problemSchema } from '@hounsfield/contracts';
import { z } from 'zod';
import { ROLE_PERMISSIONS } from '../auth/permissions';
import { API_ROUTES, ApiRoute } from './api-routes';

type JsonSchema = Record<string, unknown>;

const COMPONENTS = '#/components/schemas/';

/** Rewrites the `$defs` of one converted schema into component references (`suffix` keeps input shapes apart). */
function asComponent(schema: JsonSchema, suffix: string, components: Record<string, JsonSchema>): JsonSchema {
  const { $defs, $schema: _schema, $id: _id, ...rest } = schema as JsonSchema & { $defs?: Record<string, JsonSchema> };
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([key, inner]) =>
          key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/') ? [key, `${COMPONENTS}${inner.slice(8)}${suffix}`] : [key, rewrite(inner)],
        ),
      );
    }
    return value;
  };
  for (const [name, def] of Object.entries($defs ?? {})) components[`${name}${suffix}`] ??= rewrite(def) as JsonSchema;
  return rewrite(rest) as JsonSchema;
}

/** A schema as OpenAPI 3.1 (JSON Schema 2020-12): responses as sent (`output`), requests as accepted (`input`). */
function convert(schema: z.ZodType, io: 'input' | 'output', components: Record<string, JsonSchema>): JsonSchema {
  const suffix = io === 'input' ? 'Input' : '';
  const id = z.globalRegistry.get(schema)?.id;
  const converted = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', metadata: z.globalRegistry, reused: 'inline', cycles: 'ref' }) as JsonSchema;
  const rewritten = asComponent(converted, suffix, components);
  if (id === undefined) return rewritten;
  // A named contract: its body becomes the component (zod may already have put it in `$defs`), the route refers to it.
  const ref = `${COMPONENTS}${id}${suffix}`;
  if (rewritten.$ref !== ref) components[`${id}${suffix}`] ??= rewritten;
  return { $ref: ref };
}

const PROBLEM = { description: 'RFC 9457 problem details', content: { 'application/problem+json': { schema: { $ref: `${COMPONENTS}Problem` } } } };

function errorResponses(route: ApiRoute): Record<string, unknown> {
  const statuses = ['400', '429', '500'];
  if (route.access !== 'public') statuses.push('401');
  if (route.access !== 'public' && route.access !== 'token') statuses.push('403');
  if (route.params) statuses.push('404');
  if (route.body) statuses.push('413');
  // A change that does not fit the resource's state (cancel a finished job), or cannot be placed.
  if (route.method !== 'get') statuses.push('409', '422');
  if (route.access !== 'public') statuses.push('503');
  return Object.fromEntries(statuses.sort().map((status) => [status, { $ref: '#/components/responses/Problem' }]));
}

function describeAccess(route: ApiRoute): string {
  if (route.access === 'public') return 'No token needed.';
  if (route.access === 'token') return 'Any valid token.';
  const roles = Object.entries(ROLE_PERMISSIONS)
    .filter(([, permissions]) => permissions.includes(route.access as never))
    .map(([role]) => role);
  return `Needs \`${route.access}\` (roles: ${roles.join(', ')}).${route.access.endsWith(':read') || route.access === 'jobs:cancel' ? ' A user reaches its own resources only (403 otherwise).' : ''}`;
}

function operation(route: ApiRoute, components: Record<string, JsonSchema>): Record<string, unknown> {
  const parameters = [
    ...Object.entries(route.params ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema: convert(schema, 'input', components) })),
    ...Object.entries(route.query?.shape ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: !(schema as z.ZodType).safeParse(undefined).success,
      schema: convert(schema as z.ZodType, 'input', components),
    })),
    ...(route.ticket ? [{ name: 'ticket', in: 'query', required: false, description: 'A stream ticket (POST /v1/stream-tickets) instead of the Authorization header', schema: { type: 'string' } }] : []),
  ];
  const body = route.body
    ? typeof route.body === 'string'
      ? { required: true, content: { [route.body]: { schema: { type: 'string', format: 'binary' } } } }
      : { required: true, content: { 'application/json': { schema: convert(route.body, 'input', components) } } }
    : undefined;
  const success =
    typeof route.response === 'string'
      ? { description: 'OK', content: { [route.response]: { schema: { type: 'string' } } } }
      : { description: 'OK', content: { 'application/json': { schema: convert(route.response, 'output', components) } } };
  return {
    operationId: `${route.method}${route.path.replace(/\{(\w+)\}/g, 'By-$1').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    description: describeAccess(route),
    tags: [route.tag],
    ...(route.access === 'public' ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: { [String(route.status)]: success, ...errorResponses(route) },
  };
}

/** The gateway's OpenAPI 3.1 document, generated from the route table and the zod contracts. */
export function buildOpenApiDocument(version = '0.1.0'): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};
  convert(problemSchema, 'output', components);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of API_ROUTES) {
    paths[route.path] ??= {};
    paths[route.path][route.method] = operation(route, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hounsfield API',
      version,
      description:
        'Schedules, runs, checkpoints, monitors and evaluates multi-GPU training of 3D medical-imaging models. ' +
        'Every route but /healthz, this document and /docs needs `Authorization: Bearer <token>`; errors are RFC 9457 problem+json. ' +
        'Roles: admin (everything), user (own jobs, evaluations, checkpoints; the queue and workers), viewer (reads everything).',
    },
    servers: [{ url: '/' }],
    security: [{ bearerToken: [] }],
    tags: ['jobs', 'code', 'checkpoints', 'evaluations', 'workers', 'auth', 'platform'].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearerToken: { type: 'http', scheme: 'bearer', description: 'An API token (POST /v1/tokens; the first admin\'s is written at the first start)' } },
      responses: { Problem: PROBLEM },
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}
