// ESLint (flat config): typescript-eslint's recommended rules over the service (src/), its tests,
// benchmarks and scripts, and the Preact dashboard (dashboard/src, plus the hooks rules).
// `npm run lint` runs tsc and then this; `npm test` (no filter) runs `npm run lint` first.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'test-output/', '.harepost/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // every control-character regex here is deliberate: input is checked and scrubbed for them (headers, ids, logs)
      'no-control-regex': 'off',
      // a leading underscore marks a parameter or binding that is unused on purpose
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/**', 'test/**', 'bench/**', 'scripts/**', '*.js', '*.mjs', 'dashboard/vite.config.ts'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      // tests and benchmarks read untyped JSON bodies and poke at internals; src/ and the dashboard keep the rule
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['dashboard/src/**'],
    languageOptions: { globals: globals.browser },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
);
