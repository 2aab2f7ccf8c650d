// What the explorer's browser tests share: where Chromium is, where screenshots go, and a cluster behind the
// real router and HTTP server with an empty scenario library (the page lists the library when it loads).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { scenarioCatalog } from '../../src/cli/explorer-scenarios.js';
import { startService, type Service } from '../../src/router/service.js';
import { startCluster, type TestCluster } from '../integration/cluster-harness.js';

export const CHROMIUM = process.env.RAFTKV_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = path.resolve('test-results/explorer');

export interface ExplorerCluster {
  readonly cluster: TestCluster;
  readonly service: Service;
  stop(): Promise<void>;
}

/** A KV cluster of `nodes` worker-thread nodes and its service on loopback (free ports), with an empty library. */
export async function startExplorerCluster(nodes: number, adminToken: string | null): Promise<ExplorerCluster> {
  const cluster = await startCluster({ nodes, stateMachine: 'kv' });
  const scenarioDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-explorer-no-scenarios-'));
  let closeCatalog: () => void = () => {};
  const service = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken,
    scenarios: (hub, running) => {
      const catalog = scenarioCatalog({ dir: scenarioDir, supervisor: cluster.supervisor, service: running, hub, memory: false });
      closeCatalog = () => catalog.close();
      return catalog;
    },
  });
  return {
    cluster,
    service,
    async stop() {
      closeCatalog();
      await service.close();
      await cluster.stop();
      fs.rmSync(scenarioDir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium (Debian's, as .ci/run installs it); a clear error when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (as .ci/run does), or set RAFTKV_CHROMIUM`);
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}
