// The body of a node in a child process of its own (raftkv cluster --processes): its start-up message and its
// control plane come over the IPC channel with the supervisor, its peers and clients over TCP.
import type { NodeStartup, ProcessMessage, WorkerReport } from '../protocol/node.js';
import { ipcControlEndpoint } from '../transport/comlink-endpoint.js';
import { runNode } from './node-worker.js';

/** Waits for the start-up message, then runs the node; exits when the supervisor's channel closes. */
export function runNodeProcess(): void {
  if (process.send === undefined) throw new Error('raft-node.process must be started by a supervisor (child_process.fork)');
  // The supervisor is gone (a clean stop disconnects after shutdown; a killed supervisor closes the channel):
  // a node nobody supervises would hold its port and its folder.
  process.on('disconnect', () => process.exit(0));
  const report = (message: WorkerReport): void => {
    if (process.connected) process.send?.({ type: 'report', report: message } satisfies ProcessMessage);
  };
  const onStart = (message: ProcessMessage): void => {
    if (message.type !== 'start') return;
    process.off('message', onStart);
    void runNode(message.startup as NodeStartup, { report, control: ipcControlEndpoint(process), client: null });
  };
  process.on('message', onStart);
}
