import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    // Job cores stay free of queue, Redis and HTTP concerns: adapters own those.
    files: ['services/*/src/**/*.ts', 'shared/**/*.ts'],
    ignores: ['services/scheduler/**', 'services/api/**', 'shared/worker.ts', 'shared/redis.ts', '**/*.processor.ts', '**/main.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ['bullmq', 'ioredis', 'express'] }],
    },
  },
);
