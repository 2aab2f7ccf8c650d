/** A mistake in how the command was called: printed with the usage, exit code 64 (EX_USAGE). */
export class UsageError extends Error {
  readonly exitCode = 64;

  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
