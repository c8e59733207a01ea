// `npm run bench -- <name> [args]`: runs bench/<name>.ts, each printing ratios against a
// baseline measured in the same run.
const BENCHES = ['store', 'memory', 'cycle', 'models', 'chart', 'ingest-fn', 'pipeline', 'latency', 'nab', 'parity', 'backtest', 'dashboard', 'first-run'] as const;

const [name, ...args] = process.argv.slice(2);
if (!name || !(BENCHES as readonly string[]).includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${BENCHES.join('|')}> [args]\n`);
  process.exit(2);
}
const module = (await import(`./${name}.ts`)) as { run: (args: string[]) => Promise<void> };
await module.run(args);
