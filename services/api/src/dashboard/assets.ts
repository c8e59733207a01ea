import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

const require = createRequire(import.meta.url);

/** Files under /assets: our own script and styles, and uPlot from node_modules (no CDN). */
const FILES: Readonly<Record<string, string>> = {
  'uPlot.iife.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
  'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
};

const OWN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets');

/** Public (the login page needs the styles), cacheable for an hour, nothing but these files. */
export function assetsRouter(): express.Router {
  const router = express.Router();
  const options = { maxAge: '1h', index: false, dotfiles: 'deny', fallthrough: false } as const;
  for (const [name, file] of Object.entries(FILES)) {
    router.get(`/assets/${name}`, (_req, res, next) => res.sendFile(file, { maxAge: '1h' }, (error) => error && next(error)));
  }
  router.use('/assets', express.static(OWN, options));
  // Browsers ask for it on pages without an icon link (plain-text errors).
  router.get('/favicon.ico', (_req, res, next) => res.type('image/svg+xml').sendFile(path.join(OWN, 'favicon.svg'), { maxAge: '1h' }, (error) => error && next(error)));
  return router;
}
