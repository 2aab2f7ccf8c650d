// Process entry of the raftkv command (bin/raftkv.js loads the compiled copy of this file).
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
