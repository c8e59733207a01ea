import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { readSetting } from '../../shared/config/env.js';
import {
  checkScoreCsvOptions,
  MetricSeriesCollector,
  MetricsCsvReader,
  scoresCsvHeader,
  scoresCsvLines,
  scoreSeries,
} from '../../shared/models/backtest.js';
import { startProgress, streamSink, setProgressEvery, type Progress } from '../../shared/progress.js';

const USAGE = 'usage: anomstack score-csv IN.csv OUT.csv [--models PCA,KNN] [--score-n 25]';

/** `anomstack score-csv`: reads IN (streamed), writes OUT (streamed, all or nothing), reports skipped metrics on stderr. Returns the exit code. */
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
  const models = parsed.values.models.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const collector = new MetricSeriesCollector();
  try {
    checkScoreCsvOptions({ models, scoreN });
    // Streamed: lines are parsed as they are read, into 16 bytes a point; the text is never whole.
    const reader = new MetricsCsvReader(collector.add);
    await forEachLine(input, (line) => reader.line(line));
    reader.end();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(code ? `cannot read ${input}: ${code}\n` : `${input}: ${(error as Error).message}\n`);
    return 1;
  }
  // Written to a temporary file renamed at the end: OUT is the whole result or is not touched.
  const partial = `${output}.${process.pid}.partial`;
  const out = createWriteStream(partial);
  try {
    // The one setting it needs: reading all of them (channels, limits) cost a third of its start.
    setProgressEvery(readSetting('ANOMSTACK_PROGRESS_EVERY_MS'));
    let progress: Progress | null = null;
    let written = 0;
    let pending = scoresCsvHeader(models);
    const result = scoreSeries(
      collector.series,
      {
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
      },
      (rows) => {
        written += rows.length;
        pending += scoresCsvLines(rows);
        if (pending.length >= 1 << 16) {
          out.write(pending);
          pending = '';
        }
      },
    );
    out.end(pending);
    await finished(out);
    await rename(partial, output);
    for (const { metric_name, reason } of result.skipped) {
      process.stderr.write(`skipped ${metric_name}: ${reason}\n`);
    }
    process.stderr.write(`wrote ${written} rows to ${output} (${result.skipped.length} metrics skipped)\n`);
    return 0;
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    process.stderr.write(`${input}: ${(error as Error).message}\n`);
    return 1;
  }
}

/** Calls `onLine` for each line of the file (split at \n, a trailing \r dropped), reading 64 KiB at a time. */
async function forEachLine(file: string, onLine: (line: string) => void): Promise<void> {
  let rest = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
  }
  onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
}
