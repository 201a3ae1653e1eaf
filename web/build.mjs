// Builds the widget: the panel chunk first (its content hash goes into its name), then the loader,
// which learns the panel's file name and SRI hash at build time; then the server's pages and the
// dashboard (src/app: Preact, one script and one stylesheet, plus the widget preview page's script).
// Writes manifest.json for the server (crates/frontdesk-web embeds everything listed there).
// Usage: node build.mjs [--outdir DIR]   (default: dist/)
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

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

// The dashboard: uPlot is a chunk of its own, loaded (with SRI) by the analytics page only.
const chartsJs = await build({ ...common, entryPoints: ['src/app/charts.ts'] });
const charts = emit('charts', 'js', chartsJs.outputFiles[0].contents, 'text/javascript; charset=utf-8');
const appJs = await build({
  ...common,
  entryPoints: ['src/app/main.tsx'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { __CHARTS_FILE__: JSON.stringify(charts.file), __CHARTS_SRI__: JSON.stringify(charts.sri) },
});
emit('app', 'js', appJs.outputFiles[0].contents, 'text/javascript; charset=utf-8');
const appCss = await build({ ...common, format: undefined, entryPoints: ['src/app/app.css'], loader: { '.css': 'css' } });
emit('app', 'css', appCss.outputFiles[0].contents, 'text/css; charset=utf-8');
const previewJs = await build({ ...common, entryPoints: ['src/app/preview.ts'] });
emit('preview', 'js', previewJs.outputFiles[0].contents, 'text/javascript; charset=utf-8');
const previewCss = await build({ ...common, format: undefined, entryPoints: ['src/app/preview.css'], loader: { '.css': 'css' } });
emit('preview', 'css', previewCss.outputFiles[0].contents, 'text/css; charset=utf-8');

const manifest = { loader: { file: 'widget.js', sri: loader.sri, hashed: loader.file }, assets };
writeFileSync(join(outdir, 'manifest.json'), JSON.stringify(manifest, null, 2));
const gz = (file) => (gzipSync(readFileSync(join(outdir, 'assets', file)), { level: 9 }).length / 1024).toFixed(1);
const sizes = assets.map((a) => `${a.file.replace(/\.[0-9a-f]{12}\./, '.')} ${gz(a.file)}`).join(', ');
console.log(`web: built ${assets.length} assets into ${outdir} (KB gzipped: ${sizes})`);
