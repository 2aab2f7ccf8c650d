/** A broken invariant is a bug: it throws, the actor crashes, and the supervisor restarts it. Never caught to carry on. */
export class InvariantError extends Error {
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Readonly<Record<string, unknown>>) {
    super(`invariant broken: ${message} ${JSON.stringify(details)}`);
    this.name = 'InvariantError';
    this.details = details;
  }
}

/** Shared by every call without details, so a holding invariant allocates nothing. */
const NO_DETAILS: Readonly<Record<string, unknown>> = Object.freeze({});

export function invariant(condition: boolean, message: string, details: Readonly<Record<string, unknown>> = NO_DETAILS): asserts condition {
  if (!condition) throw new InvariantError(message, details);
}
