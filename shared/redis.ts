import { Redis } from 'ioredis';

/**
 * Redis connections as BullMQ's production guide asks (docs.bullmq.io/guide/going-to-production):
 * workers wait patiently through an outage, producers fail fast so an HTTP request or a
 * scheduler tick reports the outage instead of hanging.
 */

/**
 * For Workers, QueueEvents and subscribers: blocking commands must never give up, so
 * `maxRetriesPerRequest: null` (BullMQ refuses anything else for workers).
 */
export function workerConnection(url: string, name = 'anomstack-worker'): Redis {
  const connection = new Redis(url, { maxRetriesPerRequest: null, connectionName: name });
  connection.on('error', () => {});
  return connection;
}

/**
 * For producers (Queue.add from the API, the scheduler, chained jobs): with the offline queue off a
 * command fails at once while Redis is down, and the caller retries or reports it.
 */
export function queueConnection(url: string, name = 'anomstack-producer'): Redis {
  const connection = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: name });
  // ioredis reconnects by itself; without an 'error' listener an error would crash the process.
  // The outage is logged once per retry by the producer's watch (shared/redis-health.ts).
  connection.on('error', () => {});
  return connection;
}

/** Channel the admin API publishes on to ask for a config reload (scheduler and workers listen). */
export const reloadChannel = (prefix: string): string => `${prefix}:reload`;

/** Set of `${job}:${batch}` schedule ids paused through the API; reconciles leave them out. */
export const pausedSchedulesKey = (prefix: string): string => `${prefix}:paused-schedules`;

/** Set of schedule ids resumed through the API although their config says STOPPED. */
export const startedSchedulesKey = (prefix: string): string => `${prefix}:started-schedules`;

/** Claimed by the first manual run of a job id, so concurrent or repeated requests enqueue it once. */
export const manualRunKey = (prefix: string, queue: string, jobId: string): string => `${prefix}:manual-run:${queue}:${jobId}`;

/** The scheduler leader lock. */
export const schedulerLockKey = (prefix: string): string => `${prefix}:scheduler:leader`;

/** Closes a connection politely, or drops it when Redis is unreachable. */
export async function closeConnection(connection: Redis): Promise<void> {
  if (connection.status === 'end') {
    return;
  }
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  await connection.quit().catch(() => connection.disconnect());
}
