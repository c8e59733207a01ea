#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (built by `npm ci` through `prepare`, or by `npm
// run build`): transpiling the sources through tsx cost about half a second on every start.
// When dist/ is missing or older than any source file (an edit or a checkout since the last
// build), it runs the TypeScript sources through tsx instead, so what runs is always the current
// source. The check stats every source file: about 8 ms of CPU.
import { distIsCurrent } from '../scripts/build.mjs';

if (distIsCurrent()) {
  await import('../dist/services/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../services/cli/main.ts');
}
