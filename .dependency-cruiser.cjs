// Import boundaries between the rooms of src/ (docs/ARCHITECTURE.md) and no import cycles, type-only imports
// included (tsPreCompilationDeps: true keeps `import type` edges, which tsc erases before run time).
// Run: `npm run lint:deps` (part of `npm run lint`).
//
// The layering is data: ROOMS lists each room of src/ with the rooms it may import besides itself. It is turned
// into one forbidden rule per (room, room it may not import) pair, so each violation names both rooms, e.g.
//   error raft-may-not-import-router: src/raft/zz-bad.ts → src/router/router.ts
// To move a boundary, edit ROOMS; to add a room, add a line (an import of a folder of src/ that is not listed
// fails as `src-unknown-room` until it is).

/** @type {Record<string, readonly string[]>} room -> the other rooms of src/ it may import. */
const ROOMS = {
  raft: [],
  codec: ['raft'],
  protocol: ['raft'],
  util: [],
  storage: ['raft', 'codec'],
  kv: ['raft'],
  transport: ['raft', 'codec', 'protocol', 'util'],
  node: ['raft', 'codec', 'protocol', 'storage', 'kv', 'transport', 'util'],
  // The supervisor holds each node folder's lock and checks its identity (src/storage/data-dir.ts).
  actor: ['raft', 'protocol', 'storage', 'transport', 'util'],
  router: ['raft', 'protocol', 'kv', 'actor', 'transport', 'util'],
  chaos: ['raft', 'protocol', 'kv', 'actor', 'router', 'transport', 'util'],
  // The limits table and its start-up cross-checks: collects every room's defaults.
  config: ['raft', 'codec', 'protocol', 'util', 'storage', 'kv', 'transport', 'node', 'actor', 'router', 'chaos'],
  cli: ['*'],
};

/** Outside src/: what may not be imported from where. src/ never imports tests, benchmarks or worker entries. */
const OUTSIDE_SRC = ['test', 'bench', 'workers'];

const roomNames = Object.keys(ROOMS);
const escapeRegExp = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const allowedText = (room) => {
  const allowed = ROOMS[room];
  if (allowed.includes('*')) return 'any room of src/';
  return allowed.length === 0 ? 'nothing else of the project' : `only ${allowed.map((other) => `src/${other}`).join(', ')}`;
};

for (const [room, allowed] of Object.entries(ROOMS)) {
  for (const other of allowed) {
    if (other !== '*' && !roomNames.includes(other)) throw new Error(`.dependency-cruiser.cjs: room ${room} allows unknown room ${other}`);
  }
}

/** One rule per forbidden (room, other room) pair. */
const roomRules = Object.entries(ROOMS).flatMap(([room, allowed]) =>
  allowed.includes('*')
    ? []
    : roomNames
        .filter((other) => other !== room && !allowed.includes(other))
        .map((other) => ({
          name: `${room}-may-not-import-${other}`,
          comment: `src/${room} may not import src/${other}: src/${room} may import ${allowedText(room)} (ROOMS in .dependency-cruiser.cjs).`,
          severity: 'error',
          from: { path: `^src/${escapeRegExp(room)}/` },
          to: { path: `^src/${escapeRegExp(other)}/` },
        })),
);

/** src/ never reaches out to tests, benchmarks or worker entry points. */
const srcOutsideRules = OUTSIDE_SRC.map((outside) => ({
  name: `src-may-not-import-${outside}`,
  comment: `src/ may not import ${outside}/: the product never depends on ${outside === 'workers' ? 'its worker entry points (they depend on src/)' : 'its tests or benchmarks'}.`,
  severity: 'error',
  from: { path: '^src/' },
  to: { path: `^${escapeRegExp(outside)}/` },
}));

const roomPattern = `^src/(${roomNames.map(escapeRegExp).join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle (type-only imports count): the rooms must form a layering, and so must the files in a room.',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { circular: true },
    },
    ...roomRules,
    ...srcOutsideRules,
    {
      name: 'src-unknown-room',
      comment: `An import of a folder of src/ that is not a room in ROOMS (.dependency-cruiser.cjs): add the room there with the rooms it may import.`,
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: roomPattern },
    },
    {
      name: 'workers-may-not-import-test-or-bench',
      comment: 'workers/ holds thin entry points over src/: they may import src/ and nothing else of the project.',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'An import that cannot be resolved: a typo, or a package missing from package.json. (Also keeps the rules above honest: an edge that is not resolved could not be checked.)',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Everything that can import src/ is cruised, so the src/ rules see every edge; bench/ and test/ are not
    // constrained themselves.
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|data|bench/results|bench/baselines|test/fixtures)/' },
    // Keep `import type` and type-only re-exports as edges: a type-only cycle or boundary crossing still counts.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Resolve `./x.js` to `./x.ts` as NodeNext does; honour package.json "exports" with the node conditions.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
