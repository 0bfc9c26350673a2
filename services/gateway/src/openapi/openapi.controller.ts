import { Controller, Get, Param, Res } from '@nestjs/common';
import { Public } from '@hounsfield/runtime';
import type { Response } from 'express';
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { problem } from '../http/problem';
import { buildOpenApiDocument } from './openapi-document';

/** swagger-ui-dist's files the page uses, served from node_modules: the page needs no network. */
const SWAGGER_UI = dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, { file?: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  'favicon-32x32.png': { file: 'favicon-32x32.png', type: 'image/png' },
  'init.js': { type: 'text/javascript; charset=utf-8' },
};

/** Starts Swagger UI on this gateway's document; no validator badge (it would call an outside service). */
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '../v1/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    tryItOutEnabled: true,
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Hounsfield API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
`;

/** Everything but this page and its assets is loaded from this gateway; scripts only from here. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'";

/** The OpenAPI 3.1 document and an offline documentation page (Swagger UI from node_modules). */
@Controller()
@Public()
export class OpenApiController {
  private readonly document = JSON.stringify(buildOpenApiDocument());

  @Get('v1/openapi.json')
  openapi(@Res() response: Response): void {
    response.status(200).type('application/json').send(this.document);
  }

  @Get('docs')
  page(@Res() response: Response): void {
    response.status(200).setHeader('Content-Security-Policy', CSP).type('text/html; charset=utf-8').send(PAGE);
  }

  @Get('docs/:asset')
  asset(@Param('asset') name: string, @Res() response: Response): void {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (asset === undefined) throw problem('not_found', `no asset ${JSON.stringify(name.slice(0, 64))}; the page uses ${Object.keys(ASSETS).join(', ')}`);
    response.status(200).setHeader('Cache-Control', 'public, max-age=3600').type(asset.type);
    if (asset.file === undefined) {
      response.send(INIT_SCRIPT);
      return;
    }
    createReadStream(join(SWAGGER_UI, asset.file)).pipe(response);
  }
}
