// Builds the widget: the panel chunk first (its content hash goes into its name), then the loader,
// which learns the panel's file name and SRI hash at build time. Writes manifest.json for the
// server (crates/frontdesk-web embeds everything listed there).
// Usage: node build.mjs [--outdir DIR]   (default: dist/)
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const i = args.indexOf('--outdir');
const outdir = i >= 0 ? args[i + 1] : 'dist';
rmSync(outdir, { recursive: true, force: true });
mkdirSync(join(outdir, 'assets'), { recursive: true });

const common = {
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
};

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);
const sri = (bytes) => 'sha384-' + createHash('sha384').update(bytes).digest('base64');
const assets = [];

function emit(name, ext, bytes, contentType) {
  const file = `${name}.${hash(bytes)}.${ext}`;
  writeFileSync(join(outdir, 'assets', file), bytes);
  const entry = { name, file, sri: sri(bytes), content_type: contentType };
  assets.push(entry);
  return entry;
}

const panelOut = await build({ ...common, entryPoints: ['src/widget/panel.ts'] });
const panel = emit('panel', 'js', panelOut.outputFiles[0].contents, 'text/javascript; charset=utf-8');

const loaderOut = await build({
  ...common,
  entryPoints: ['src/widget/loader.ts'],
  define: { __PANEL_FILE__: JSON.stringify(panel.file), __PANEL_SRI__: JSON.stringify(panel.sri) },
});
const loaderBytes = loaderOut.outputFiles[0].contents;
writeFileSync(join(outdir, 'widget.js'), loaderBytes);
const loader = emit('widget', 'js', loaderBytes, 'text/javascript; charset=utf-8');

const pagesJs = await build({ ...common, entryPoints: ['src/pages/pages.ts'] });
emit('pages', 'js', pagesJs.outputFiles[0].contents, 'text/javascript; charset=utf-8');
const css = await build({ ...common, format: undefined, entryPoints: ['src/pages/pages.css'], loader: { '.css': 'css' } });
emit('pages', 'css', css.outputFiles[0].contents, 'text/css; charset=utf-8');

const manifest = { loader: { file: 'widget.js', sri: loader.sri, hashed: loader.file }, assets };
writeFileSync(join(outdir, 'manifest.json'), JSON.stringify(manifest, null, 2));
console.log(`web: built ${assets.length} assets into ${outdir}`);
