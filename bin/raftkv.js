#!/usr/bin/env node
// The raftkv command: runs the compiled code in dist/ (`npm run build`; `npm run cluster` builds first).
import '../dist/src/cli/run.js';
