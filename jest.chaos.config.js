/** `npm run test:chaos`: the fault suite (test/chaos), real worker processes and a private Redis. */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
  testPathIgnorePatterns: [],
  testTimeout: 240_000,
  maxWorkers: 1,
};
