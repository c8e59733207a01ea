import { parentPort } from 'node:worker_threads';
import { runScoreTask, runTrainTask, type ScoreTask, type TrainTask } from './model-tasks.js';
import { transferablesOf, type WorkerRequest, type WorkerResponse } from './pool-protocol.js';

// Runs chunks of train/score tasks for shared/models/pool.ts.
const port = parentPort;
if (port === null) {
  throw new Error('model-worker.ts must run as a worker thread');
}
port.on('message', (request: WorkerRequest) => {
  let response: WorkerResponse;
  try {
    const results =
      request.kind === 'train'
        ? (request.tasks as TrainTask[]).map(runTrainTask)
        : (request.tasks as ScoreTask[]).map(runScoreTask);
    response = { id: request.id, results };
  } catch (error) {
    response = { id: request.id, error: (error as Error).stack ?? String(error) };
  }
  port.postMessage(response, transferablesOf(response));
});
