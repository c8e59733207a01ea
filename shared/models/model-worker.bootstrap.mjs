// Entry of the model worker when the pool runs from TypeScript sources (tsx, vitest): Node 20 does not
// apply `--import tsx` from a worker's execArgv to the worker's own entry module, so register tsx here.
import { register } from 'tsx/esm/api';

register();
await import('./model-worker.ts');
