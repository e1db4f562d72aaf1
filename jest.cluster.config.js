/**
 * `npm run test:cluster`: the integration suites that exercise the send path (enqueue, send,
 * controls, timing, delivery tracking, results, shutdown, a fleet of CLI workers, shared fields,
 * finished records, purge, suppression, webhooks, SMS fallback) run again on a
 * real three-master Redis Cluster started for the run (test/cluster-setup.js) instead of REDIS_URL.
 */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: [
    '<rootDir>/test/{worker,controls,schedule,tracking,e2e,fleet,shutdown,metrics,producer,purge,shared,records,suppression,webhooks,fallback}.test.ts',
  ],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/cluster-setup.js',
  globalTeardown: '<rootDir>/test/cluster-teardown.js',
};
