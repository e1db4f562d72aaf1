/** Jest runs the TypeScript sources as ESM through ts-jest (see ../shared/toolchain.md). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  // NodeNext makes us write `./x.js`; map it back to the `.ts` source. Not `x.json.js`: that is a
  // real module (libphonenumber-js wraps its metadata so), and `x.json` would be a JSON import.
  moduleNameMapper: { '^(\\.{1,2}/.*)(?<!\\.json)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The fault suite has its own command: npm run test:chaos (jest.chaos.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/chaos/'],
  testTimeout: 60_000,
  // Fails the run if a test left a process running or a vbtest-* key in Redis.
  globalTeardown: '<rootDir>/test/teardown.js',
  // Integration tests share one Redis and start real servers: two workers are plenty on 2 cores.
  maxWorkers: 2,
};
