import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'services/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/logger.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: files run two at a time; each file isolates itself (own database schema, own queue prefix).
    maxWorkers: 2,
    retry: 0,
    // Python ingest functions need pandas, which Debian's interpreter has (see README).
    env: { ANOMSTACK_PYTHON: process.env.ANOMSTACK_PYTHON ?? '/usr/bin/python3' },
  },
});
