/**
 * The import rules of src/ (`npm run deps`, in CI through `npm run lint`). A message travels
 * producer → campaign store → dispatcher → worker → xml/gateway → tracking; a room imports only
 * rooms on a lower level than its own (STYLE.md "Imports point down"), never a sibling, never in a
 * circle. What two rooms both need moves below both.
 *
 *   level 0  src/*.ts (errors, message, options, redis, job: shapes and plumbing every room uses)
 *   level 1  src/xml, src/commands (pure XML; the Lua scripts and their loader)
 *   level 2  src/campaign, src/gateway, src/sandbox
 *   level 3  src/dispatch, src/tracking, src/producer, src/inspect, src/webhook
 *   level 4  src/worker
 *   level 5  src/dashboard
 *   level 6  src/cli, src/index.ts (the only places that wire everything together)
 */
const LEVELS = [
  ['src/(?!index\\.ts)[^/]+\\.ts$'],
  ['src/xml/', 'src/commands/'],
  ['src/campaign/', 'src/gateway/', 'src/sandbox/'],
  ['src/dispatch/', 'src/tracking/', 'src/producer/', 'src/inspect/', 'src/webhook/'],
  ['src/worker/'],
  ['src/dashboard/'],
  ['src/cli/', 'src/index\\.ts$'],
];

const anchored = (p) => `^${p}`;

/** For each room: no import of a room on its own level (but itself) or any level above. */
const layering = LEVELS.flatMap((rooms, level) =>
  rooms.map((room) => ({
    name: level === 0 ? 'layer-core' : `layer-${room.replace(/^src\//, '').replace(/\W+/g, '')}`,
    comment: `${room} (level ${level}) imports only rooms of a lower level`,
    severity: 'error',
    from: { path: anchored(room) },
    to: {
      path: LEVELS.slice(level)
        .flat()
        .filter((r) => r !== room)
        .map(anchored),
    },
  })),
);

export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports: move what both sides need below both.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'src-not-to-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    ...layering,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
