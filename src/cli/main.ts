import { CERTS_USAGE, runCertsCommand } from './certs-command.js';
import { CHAOS_USAGE, runChaosCommand } from './chaos-command.js';
import { CLUSTER_USAGE, parseClusterArgs, runCluster } from './cluster-command.js';
import { ConfigError, resolveClusterArgv } from './config-file.js';
import { MEMBER_USAGE, runMemberCommand } from './member-command.js';
import { NODE_USAGE, parseNodeArgs, runNode } from './node-command.js';
import { EXIT_BAD_BACKUP, SNAPSHOT_USAGE, runSnapshotCommand } from './snapshot-command.js';
import { StorageError, type StorageErrorCode } from '../storage/errors.js';
import { packageVersion } from '../util/version.js';
import { UsageError } from './usage-error.js';

/** sysexits' EX_CANTCREAT: the data folder cannot be used (locked by another process, another cluster's, newer). */
export const EXIT_CANNOT_USE_DATA_DIR = 73;
/** sysexits' EX_CONFIG: the configuration file or a RAFTKV_* variable is wrong. */
export const EXIT_CONFIG = 78;
const DATA_DIR_CODES = new Set<StorageErrorCode>(['STORAGE_DIR_LOCKED', 'STORAGE_DIR_FORMAT', 'STORAGE_DIR_CLUSTER']);

const USAGE = `usage: raftkv <command> [options]
commands:
  cluster    start a local cluster of Raft nodes, each a worker-thread actor (or a process: --processes)
  node       run one member of a cluster of processes or hosts, with its own HTTP and Redis-protocol servers
  chaos      run a failure-injection scenario against a fresh cluster and check the history
  snapshot   save a backup of a running cluster, restore a new cluster from one, or check one
  member     list the members of a running cluster, add a member or a learner, promote a learner, remove one
  certs      make a certificate authority and node certificates for TLS between nodes
options:
  --help, -h       this text (raftkv COMMAND --help: that command's)
  --version, -V    the version of raftkv (and of Node.js)

${CLUSTER_USAGE}

${NODE_USAGE}

${CHAOS_USAGE}

${SNAPSHOT_USAGE}

${MEMBER_USAGE}

${CERTS_USAGE}`;

/** Each command's usage, for `raftkv COMMAND --help`. */
const COMMAND_USAGE: Readonly<Record<string, string>> = {
  cluster: CLUSTER_USAGE,
  node: NODE_USAGE,
  chaos: CHAOS_USAGE,
  snapshot: SNAPSHOT_USAGE,
  member: MEMBER_USAGE,
  certs: CERTS_USAGE,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  // --version and --help anywhere answer at once, exit 0, and start nothing (as etcd, consul and redis-server do).
  if (argv.includes('--version') || argv.includes('-V')) {
    console.log(`raftkv ${packageVersion()} (node ${process.version})`);
    return 0;
  }
  if (command !== undefined && rest.some((arg) => arg === '--help' || arg === '-h')) {
    const usage = COMMAND_USAGE[command];
    if (usage !== undefined) {
      console.log(usage);
      return 0;
    }
  }
  try {
    switch (command) {
      case 'cluster':
        await runCluster(parseClusterArgs(resolveClusterArgv(rest, process.env)));
        return 0;
      case 'node':
        await runNode(parseNodeArgs(rest));
        return 0;
      case 'chaos':
        return await runChaosCommand(rest);
      case 'snapshot':
        return await runSnapshotCommand(rest);
      case 'member':
        return await runMemberCommand(rest);
      case 'certs':
        return await runCertsCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 64 : 0;
      default:
        throw new UsageError(`unknown command ${command}`, USAGE);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`raftkv: ${error.message}\n${error.usage}`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      console.error(`raftkv: the configuration cannot be used:\n${error.message}`);
      return EXIT_CONFIG;
    }
    if (error instanceof StorageError && error.code === 'STORAGE_BACKUP_INVALID') {
      console.error(`raftkv: ${error.message}`);
      return EXIT_BAD_BACKUP;
    }
    if (error instanceof StorageError && DATA_DIR_CODES.has(error.code)) {
      // Another process holds the folder, or it is not this cluster's: nothing was started or written.
      console.error(`raftkv: ${error.message}`);
      return EXIT_CANNOT_USE_DATA_DIR;
    }
    console.error(`raftkv: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}
