// Backup and restore (issue 15, item 5): `raftkv snapshot save` from a running cluster under load, `restore`
// into a new folder (a new cluster id), and every write acknowledged before the save is there; a corrupt or
// truncated file is refused with STORAGE_BACKUP_INVALID (exit 65).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runSnapshotCommand } from '../../src/cli/snapshot-command.js';
import { startService, type Service } from '../../src/router/service.js';
import { decodeBackup } from '../../src/storage/backup.js';
import { StorageError } from '../../src/storage/errors.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

const TOKEN = 'backup-test-token';
let cluster: TestCluster;
let service: Service;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  service = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: TOKEN });
  await leaderOf(cluster.supervisor);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-backup-'));
}, 60_000);

afterAll(async () => {
  await service?.close();
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const endpoint = (s: Service): string => `http://127.0.0.1:${s.http.port}`;

async function put(base: string, key: string, value: string): Promise<boolean> {
  const response = await fetch(`${base}/v1/kv/${key}`, { method: 'PUT', body: value }).catch(() => null);
  return response?.status === 200;
}

describe('raftkv snapshot', () => {
  it('saves a backup under load; restored into a new cluster, every write acknowledged before the save is there', async () => {
    const base = endpoint(service);
    const acked = new Set<number>();
    let next = 0;
    let writing = true;
    // Four writers, each key written once: key i holds value v-i once acknowledged.
    const writers = Array.from({ length: 4 }, async () => {
      while (writing) {
        const i = next++;
        if (await put(base, `k${i}`, `v-${i}`)) acked.add(i);
      }
    });
    await waitFor('200 writes acknowledged', () => acked.size >= 200);
    const before = new Set(acked);
    const file = path.join(dir, 'backup.rkv');
    const out: string[] = [];
    expect(await runSnapshotCommand(['save', file, '--endpoint', base, '--admin-token', TOKEN], (line) => out.push(line))).toBe(0);
    await waitFor('writes after the save', () => acked.size >= before.size + 50);
    writing = false;
    await Promise.all(writers);
    expect(out[0]).toMatch(
      new RegExp(`^saved ${file}: cluster ${cluster.supervisor.identity?.clusterId}, index \\d+, term \\d+, voters n1,n2,n3, `),
    );
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);

    const restoredDir = path.join(dir, 'restored');
    expect(await runSnapshotCommand(['restore', file, '--data-dir', restoredDir, '--nodes', '3'], (line) => out.push(line))).toBe(0);
    expect(out[1]).toContain(`start it with raftkv cluster --data-dir ${restoredDir} --nodes 3`);
    const restored = await startCluster({ nodes: 3, stateMachine: 'kv', dataDir: restoredDir });
    const again = await startService(restored.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: null });
    try {
      expect(restored.supervisor.identity?.clusterId).not.toBe(cluster.supervisor.identity?.clusterId);
      expect(restored.supervisor.resumed).toBe(true);
      await leaderOf(restored.supervisor);
      const missing: number[] = [];
      for (const i of before) {
        const response = await waitFor(`k${i} read`, async () => {
          const r = await fetch(`${endpoint(again)}/v1/kv/k${i}`).catch(() => null);
          return r === null || r.status === 503 ? null : r;
        });
        if (response.status !== 200 || !(await response.text()).includes(`v-${i}`)) missing.push(i);
      }
      expect(missing).toEqual([]);
      // The restored cluster takes writes of its own.
      expect(
        await waitFor('a write to the restored cluster', async () => ((await put(endpoint(again), 'after', 'yes')) ? true : null)),
      ).toBe(true);
    } finally {
      await again.close();
      await restored.stop();
    }
    // A folder that holds a cluster is not restored into.
    await expect(runSnapshotCommand(['restore', file, '--data-dir', restoredDir], () => undefined)).rejects.toThrow(/is not empty/);
  });

  it('refuses a corrupt or truncated backup, naming what is wrong; status says what a good one holds', async () => {
    const file = path.join(dir, 'good.rkv');
    await runSnapshotCommand(['save', file, '--endpoint', endpoint(service), '--admin-token', TOKEN], () => undefined);
    const good = fs.readFileSync(file);
    const lines: string[] = [];
    expect(await runSnapshotCommand(['status', file], (line) => lines.push(line))).toBe(0);
    expect(lines[0]).toMatch(/: ok, cluster [0-9a-f-]{36}, index \d+/);
    const refusal = (bytes: Uint8Array): string => {
      try {
        decodeBackup(bytes, 'x');
      } catch (error) {
        expect(error).toBeInstanceOf(StorageError);
        expect((error as StorageError).code).toBe('STORAGE_BACKUP_INVALID');
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 0xff;
    expect(refusal(flipped)).toMatch(/data fails its checksum/);
    expect(refusal(good.subarray(0, good.length - 3))).toMatch(/truncated: \d+ of \d+ data bytes/);
    expect(refusal(good.subarray(0, 20))).toMatch(/truncated: it ends inside its header/);
    const header = Buffer.from(good);
    header[20] = (header[20] as number) ^ 0x01;
    expect(refusal(header)).toMatch(/header fails its checksum/);
    expect(refusal(Buffer.from('hello, not a backup at all'))).toMatch(/not a raftkv backup/);
    // Through the command: exit 65, and the file named.
    const bad = path.join(dir, 'bad.rkv');
    fs.writeFileSync(bad, flipped);
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    try {
      expect(await main(['snapshot', 'status', bad])).toBe(65);
    } finally {
      vi.restoreAllMocks();
    }
    expect(errors.join('\n')).toContain('STORAGE_BACKUP_INVALID');
    expect(errors.join('\n')).toContain(bad);
  });

  it('needs the admin token when the cluster has one', async () => {
    await expect(runSnapshotCommand(['save', path.join(dir, 'x.rkv'), '--endpoint', endpoint(service)], () => undefined)).rejects.toThrow(
      /answered 401: .*UNAUTHORIZED/,
    );
    expect(fs.existsSync(path.join(dir, 'x.rkv'))).toBe(false);
  });
});
