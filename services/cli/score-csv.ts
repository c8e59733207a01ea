import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readSetting } from '../../shared/config/env.js';
import { formatScoresCsv, scoreCsv } from '../../shared/models/backtest.js';
import { startProgress, streamSink, setProgressEvery, type Progress } from '../../shared/progress.js';

const USAGE = 'usage: anomstack score-csv IN.csv OUT.csv [--models PCA,KNN] [--score-n 25]';

/** `anomstack score-csv`: reads IN, writes OUT, reports skipped metrics on stderr. Returns the exit code. */
export async function scoreCsvCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { models: { type: 'string', default: 'PCA,KNN' }, 'score-n': { type: 'string', default: '25' } },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [input, output] = parsed.positionals;
  if (input === undefined || output === undefined || parsed.positionals.length > 2) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const scoreN = Number(parsed.values['score-n']);
  let text: string;
  try {
    text = await readFile(input, 'utf8');
  } catch (error) {
    process.stderr.write(`cannot read ${input}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
    return 1;
  }
  try {
    const models = parsed.values.models.split(',').map((m) => m.trim()).filter((m) => m !== '');
    // The one setting it needs: reading all of them (channels, limits) cost a third of its start.
    setProgressEvery(readSetting('ANOMSTACK_PROGRESS_EVERY_MS'));
    let progress: Progress | null = null;
    const result = scoreCsv(text, {
      models,
      scoreN,
      // Progress on stderr: a start line, one every ANOMSTACK_PROGRESS_EVERY_MS, an end line.
      onMetric: ({ total, done }) => {
        if (progress === null) {
          progress = startProgress(streamSink(process.stderr), { task: `score-csv ${input}`, unit: 'metrics', total });
        } else {
          progress.add(1);
        }
        if (done === total) {
          progress.end();
        }
      },
    });
    for (const { metric_name, reason } of result.skipped) {
      process.stderr.write(`skipped ${metric_name}: ${reason}\n`);
    }
    await writeFile(output, formatScoresCsv(result));
    process.stderr.write(`wrote ${result.rows.length} rows to ${output} (${result.skipped.length} metrics skipped)\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${input}: ${(error as Error).message}\n`);
    return 1;
  }
}
