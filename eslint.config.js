// ESLint 9 flat config: typescript-eslint's recommended rules over src, workers, bench and test, plus the
// house rules that a type checker cannot see (STYLE.md, "For raftkv" 1: the Raft core has no I/O, no timer,
// no clock and no ambient randomness; tests never land focused or skipped).
// Formatting is prettier's job (.prettierrc.json); no rule here is about layout.
// Import boundaries between rooms and cycles are dependency-cruiser's job (.dependency-cruiser.cjs).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Every Node built-in, with and without the `node:` prefix (`fs`, `node:fs`, `fs/promises`, ...). */
const NODE_BUILTIN_PATTERNS = ['node:*', ...builtinModules.filter((name) => !name.startsWith('_')).flatMap((name) => [name, `${name}/*`])];

/** Clock, timer and scheduling globals the Raft core must not touch: time arrives only as tick(). */
const CORE_FORBIDDEN_GLOBALS = [
  ['Date', 'the core has no clock: time arrives only as tick()'],
  ['performance', 'the core has no clock: time arrives only as tick()'],
  ['setTimeout', 'the core has no timers: time arrives only as tick()'],
  ['setInterval', 'the core has no timers: time arrives only as tick()'],
  ['setImmediate', 'the core has no timers: time arrives only as tick()'],
  ['clearTimeout', 'the core has no timers: time arrives only as tick()'],
  ['clearInterval', 'the core has no timers: time arrives only as tick()'],
  ['clearImmediate', 'the core has no timers: time arrives only as tick()'],
  ['queueMicrotask', 'the core is synchronous: output is data handed out by ready()'],
  ['process', 'the core has no I/O and no environment: everything arrives through its inputs'],
].map(([name, why]) => ({ name, message: `src/raft: ${why}.` }));

/** Test-runner objects whose `.only` / `.skip` must never be committed. */
const TEST_RUNNER_OBJECTS = '/^(describe|suite|it|test|bench)$/';

export default defineConfig(
  {
    // Generated output and data; node_modules is ignored by default.
    ignores: ['dist/**', 'data/**', 'bench/results/**', 'bench/baselines/**', '.sim-failures/**', 'scratch/**', 'test/fixtures/**'],
  },
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    // Not the type-checked set (recommendedTypeChecked): measured on this tree it costs about 33 s of CPU against
    // 10 s (tsc --noEmit alone is 13 s), and of its 37 extra findings most were house style it would need
    // switched off (unbound-method on RaftCore's per-role step/tick functions, require-await on fast-check's
    // async commands); the one clear gain, no-unnecessary-type-assertion (17 hits), is worth a later pass.
    // Neither set has layout rules since ESLint 9 and typescript-eslint 8, so nothing here fights prettier and
    // eslint-config-prettier is not needed.
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Unused names: tsc already fails on them (noUnusedLocals, noUnusedParameters in tsconfig.json); this keeps
      // the lint answer the same as tsc's, including the `_name` convention for a parameter a signature needs.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The explorer's page (src/explorer/page): plain browser modules served as they are, no Node.
    files: ['src/explorer/page/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // The .cjs config files are CommonJS.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The Raft core (STYLE.md, "For raftkv" 1): a synchronous object, inputs tick() / step() / propose(), output
    // ready(). No Node module, no clock, no timer, no ambient randomness (a seeded PRNG is injected: random.ts).
    files: ['src/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: NODE_BUILTIN_PATTERNS, message: 'src/raft has no I/O: no Node built-in module (STYLE.md, "For raftkv" 1).' }],
        },
      ],
      'no-restricted-globals': ['error', ...CORE_FORBIDDEN_GLOBALS],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'src/raft: use the injected seeded PRNG (random.ts), never Math.random.' },
        ...CORE_FORBIDDEN_GLOBALS.map(({ name, message }) => ({ object: 'globalThis', property: name, message })),
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression',
          message: 'src/raft loads no module at run time: import statically from src/raft only.',
        },
      ],
    },
  },
  {
    // Tests: a focused or skipped test must never be committed (it silently shrinks what CI checks).
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          // describe.only(...), it.skip(...), test.only.each(...), test.concurrent.only(...), ...
          selector: `MemberExpression[property.name=/^(only|skip)$/]:matches([object.name=${TEST_RUNNER_OBJECTS}], [object.object.name=${TEST_RUNNER_OBJECTS}])`,
          message: 'No .only / .skip in committed tests: CI would silently run fewer tests.',
        },
      ],
    },
  },
);
