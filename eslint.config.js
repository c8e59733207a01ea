import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers: shared/ never reaches up into services/, and no service reaches into another one's
// internals (what two services need lives in shared/); the composition root (services/*.ts and
// services/cli/) wires them. Job cores also stay free of queue, Redis and HTTP concerns.
const ADAPTER_LIBRARIES = ['bullmq', 'ioredis', 'express'];
const OTHER_SERVICES = {
  group: ['../../*/src/**', '../../*.js', '../../cli/**', '../../../services/**'],
  message: 'a service imports shared/, never another service or the composition root',
};
const UP_FROM_SHARED = { group: ['**/services/**'], message: 'shared/ must not import services/' };

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'metrics/', 'models/', 'plots/', 'coverage/', '**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
    },
  },
  {
    files: ['shared/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ADAPTER_LIBRARIES, patterns: [UP_FROM_SHARED] }] },
  },
  {
    // The adapters: queue, Redis and HTTP code lives here and only here.
    files: ['shared/worker.ts', 'shared/redis.ts', 'shared/redis-health.ts', 'shared/schedules/store.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [UP_FROM_SHARED] }] },
  },
  {
    files: ['services/{ingest,train,score,alert}/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ADAPTER_LIBRARIES, patterns: [OTHER_SERVICES] }] },
  },
  {
    files: ['services/{api,scheduler}/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [OTHER_SERVICES] }] },
  },
);
