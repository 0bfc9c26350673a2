'use strict';
/**
 * Runs the services' TypeScript sources without keeping a compiler in memory.
 *
 *   node -r ./scripts/ts-register.cjs services/<name>/src/main.ts
 *   node scripts/ts-register.cjs --precompile          (compile every libs/ and services/ source now)
 *
 * Each `.ts` file is compiled once with @swc/core and the repository's `.swcrc` into
 * `node_modules/.cache/hounsfield-ts/` (or HOUNSFIELD_TS_CACHE), and that output is reused while it
 * is newer than its source, so an edited file is recompiled on the next start and a stale build
 * cannot run. @swc/core is loaded only when something needs compiling. A service started this way
 * is about 80 MB smaller in resident memory than under @swc-node/register, which keeps the
 * compiler and TypeScript loaded for the life of the process. Stack traces map to the TypeScript
 * lines (inline source maps).
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const CACHE = process.env.HOUNSFIELD_TS_CACHE || path.join(ROOT, 'node_modules', '.cache', 'hounsfield-ts');

let swc;
let swcOptions;

function compile(file) {
  swc = swc || require('@swc/core');
  if (!swcOptions) {
    swcOptions = JSON.parse(fs.readFileSync(path.join(ROOT, '.swcrc'), 'utf8'));
    delete swcOptions.$schema;
  }
  return swc.transformFileSync(file, { ...swcOptions, filename: file, swcrc: false }).code;
}

function outputOf(file) {
  const relative = path.relative(ROOT, file);
  const inside = !relative.startsWith('..') && !path.isAbsolute(relative);
  return path.join(CACHE, inside ? relative : path.join('_outside', file)).replace(/\.ts$/, '.js');
}

/** The compiled code of `file`, from the cache when it is newer than the source. */
function compiled(file) {
  const output = outputOf(file);
  try {
    if (fs.statSync(output).mtimeMs >= fs.statSync(file).mtimeMs) return fs.readFileSync(output, 'utf8');
  } catch {
    // not compiled yet
  }
  const code = compile(file);
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const temporary = `${output}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, code);
  fs.renameSync(temporary, output); // services starting together may race; each rename is whole
  return code;
}

function register() {
  process.setSourceMapsEnabled(true);
  require.extensions['.ts'] = (module, file) => module._compile(compiled(file), file);
}

function sources(directory) {
  const found = [];
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...sources(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.spec.ts')) found.push(full);
  }
  return found;
}

function precompile() {
  let count = 0;
  for (const group of ['libs', 'services']) {
    for (const name of fs.readdirSync(path.join(ROOT, group))) {
      const src = path.join(ROOT, group, name, 'src');
      if (!fs.existsSync(src)) continue;
      for (const file of sources(src)) {
        compiled(file);
        count += 1;
      }
    }
  }
  console.log(`compiled ${count} TypeScript files into ${path.relative(ROOT, CACHE) || CACHE}`);
}

if (require.main === module) {
  if (process.argv[2] !== '--precompile') {
    console.error('usage: node -r scripts/ts-register.cjs <file.ts>  |  node scripts/ts-register.cjs --precompile');
    process.exit(2);
  }
  precompile();
} else {
  register();
}
