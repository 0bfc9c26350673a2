import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { PUBLIC_ROUTE } from '@hounsfield/runtime';
import Ajv2020 from 'ajv/dist/2020';
import { spawnSync } from 'node:child_process';
import { gatewayModule } from '../app.module';
import { REQUIRED_PERMISSION } from '../auth/auth.decorators';
import { loadGatewayConfig } from '../config';
import { API_ROUTES } from './api-routes';
import { buildOpenApiDocument } from './openapi-document';

interface ControllerRoute {
  route: string;
  access: string;
}

/** Every route the gateway's controllers declare, as `METHOD /path/{param}`, with its access. */
function controllerRoutes(): ControllerRoute[] {
  const module = gatewayModule(loadGatewayConfig({}));
  const controllers = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, module) as Type[];
  const routes: ControllerRoute[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = controller.prototype[name] as object;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (name === 'constructor' || path === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number].toLowerCase();
      const full = `/${[base, path].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/').replace(/:(\w+)/g, '{$1}');
      const isPublic = Reflect.getMetadata(PUBLIC_ROUTE, handler) ?? Reflect.getMetadata(PUBLIC_ROUTE, controller);
      const permission = Reflect.getMetadata(REQUIRED_PERMISSION, handler) ?? Reflect.getMetadata(REQUIRED_PERMISSION, controller);
      routes.push({ route: `${method} ${full}`, access: isPublic ? 'public' : (permission ?? 'token') });
    }
  }
  return routes;
}

/** The OpenAPI validator is an ES module: it runs in its own Node process on the document. */
function validateDocument(document: unknown): { valid: boolean; errors?: unknown } {
  const script = `
    const { Validator } = require('@seriousme/openapi-schema-validator');
    let input = '';
    process.stdin.on('data', (c) => (input += c)).on('end', async () => {
      const result = await new Validator().validate(JSON.parse(input));
      process.stdout.write(JSON.stringify(result));
    });`;
  const run = spawnSync(process.execPath, ['-e', script], { input: JSON.stringify(document), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

describe('the OpenAPI document', () => {
  const document = buildOpenApiDocument() as { openapi: string; paths: Record<string, Record<string, { security?: unknown[] }>> };

  it('is valid OpenAPI 3.1', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(validateDocument(document)).toEqual({ valid: true });
  });

  it('defines every schema it refers to, each one a compilable JSON Schema 2020-12', () => {
    const text = JSON.stringify(document);
    const schemas = (document as unknown as { components: { schemas: Record<string, object> } }).components.schemas;
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) expect(Object.keys(schemas)).toContain(name);
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'components', $defs: JSON.parse(JSON.stringify(schemas).replace(/"#\/components\/schemas\//g, '"components#/$defs/')) });
    for (const name of Object.keys(schemas)) expect(() => ajv.compile({ $ref: `components#/$defs/${name}` })).not.toThrow();
  });

  it('has every controller route, and only those, with the access the controller enforces', () => {
    const declared = controllerRoutes();
    const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    expect(documented.sort()).toEqual(declared.map((r) => r.route).sort());
    const table = new Map(API_ROUTES.map((r) => [`${r.method} ${r.path}`, r.access]));
    for (const { route, access } of declared) expect({ route, access: table.get(route) }).toEqual({ route, access });
  });

  it('states the bearer scheme, and opens only health, the document and the docs page', () => {
    const open = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => Array.isArray(op.security) && op.security.length === 0)
        .map(([method]) => `${method} ${path}`),
    );
    expect(open.sort()).toEqual(['get /docs', 'get /docs/{asset}', 'get /healthz', 'get /v1/openapi.json']);
    expect(JSON.stringify(buildOpenApiDocument())).toContain('"bearerToken":{"type":"http","scheme":"bearer"');
  });
});
