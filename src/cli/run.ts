// Process entry of the raftkv command (bin/raftkv.js loads the compiled copy of this file).
import { main } from './main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything was stopped and synced: a handle some library left open must not keep the process alive.
setTimeout(() => process.exit(code), 2_000).unref();
