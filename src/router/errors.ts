// Temporary: the registry moved to src/protocol/errors.ts; this re-export goes once every importer is updated.
export * from '../protocol/errors.js';
