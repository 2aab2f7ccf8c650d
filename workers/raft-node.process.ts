// Entry point of a Raft node in a child process of its own: all the work is in src/node/node-process.ts.
import { runNodeProcess } from '../src/node/node-process.js';

runNodeProcess();
