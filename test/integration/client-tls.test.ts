// Client-facing TLS (issue 16 part 2): the HTTP API over HTTPS and the Redis protocol over TLS with a
// certificate from `raftkv certs`; a plaintext client, a client that trusts another CA and (with --tls-ca) a
// client without a certificate are refused; `raftkv cluster` and `raftkv node` refuse half a pair (exit 64) and
// announce https:// and `redis-cli --tls`.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeCertificates, type CertificatePair, type CertificateSet } from '../../src/cli/certs-command.js';
import { main } from '../../src/cli/main.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

const ENTRY = path.resolve('src/cli/run.ts');
let dir: string;
let certs: CertificateSet;
/** Another CA and a certificate it signed: trusted by nobody here. */
let stranger: CertificateSet;
let cluster: TestCluster;
/** TLS, no client certificates. */
let secure: Service;
/** TLS that requires a client certificate signed by the CA. */
let mutual: Service;
const clients: Redis[] = [];
const children: ChildProcess[] = [];

interface Reply {
  readonly status: number;
  readonly json: Record<string, unknown>;
  readonly protocol: string | null;
}

function request(
  service: Service,
  method: string,
  target: string,
  options: { body?: string; ca?: string; client?: CertificatePair } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: service.http.port,
        method,
        path: target,
        ca: options.ca ?? certs.ca.cert,
        ...(options.client === undefined ? {} : { cert: options.client.cert, key: options.client.key }),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(text) as Record<string, unknown>,
            protocol: (res.socket as tls.TLSSocket).getProtocol?.() ?? null,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function tlsRedis(service: Service, options: tls.ConnectionOptions): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port: service.resp.port,
    tls: options,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-client-tls-'));
  ({ set: certs } = makeCertificates({ dir, nodes: ['server', 'client'], hosts: ['127.0.0.1'] }));
  ({ set: stranger } = makeCertificates({ dir: path.join(dir, 'stranger'), nodes: ['server', 'client'], hosts: ['127.0.0.1'] }));
  const server = certs.nodes.server as CertificatePair;
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  secure = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken: null,
    tls: { cert: server.cert, key: server.key },
  });
  mutual = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken: null,
    tls: { cert: server.cert, key: server.key, ca: certs.ca.cert },
  });
  await leaderOf(cluster.supervisor);
});

afterAll(async () => {
  vi.restoreAllMocks();
  for (const client of clients) client.disconnect();
  for (const child of children) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  await secure?.close();
  await mutual?.close();
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS', () => {
  it('PUT and GET over HTTPS with the CA, on TLS 1.3', async () => {
    expect(secure.tls).toBe(true);
    const put = await request(secure, 'PUT', '/v1/kv/tls-a', { body: 'over tls' });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    expect(put.protocol).toBe('TLSv1.3');
    const get = await request(secure, 'GET', '/v1/kv/tls-a');
    expect(get.status).toBe(200);
    expect(get.json).toMatchObject({ key: 'tls-a', value: 'over tls', index: put.json.index });
  });

  it('accepts TLS 1.2 and refuses TLS 1.1', async () => {
    const connect = (version: tls.SecureVersion): Promise<string | null> =>
      new Promise((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: secure.http.port,
          ca: certs.ca.cert,
          minVersion: version,
          maxVersion: version,
        });
        socket.once('secureConnect', () => {
          const protocol = socket.getProtocol();
          socket.destroy();
          resolve(protocol);
        });
        socket.once('error', reject);
      });
    expect(await connect('TLSv1.2')).toBe('TLSv1.2');
    await expect(connect('TLSv1.1')).rejects.toThrow();
  });

  it('refuses plaintext HTTP on the TLS port', async () => {
    const plain = new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: secure.http.port, path: '/v1/kv/tls-a', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.setTimeout(5_000, () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
    // Node's TLS server drops a connection whose first bytes are no TLS handshake; no HTTP answer comes back.
    await expect(plain).rejects.toThrow();
  });

  it('a client that trusts another CA refuses the server', async () => {
    await expect(request(secure, 'GET', '/v1/kv/tls-a', { ca: stranger.ca.cert })).rejects.toThrow(
      /self.signed|unable to verify|certificate/i,
    );
  });

  it('with a CA for clients, a client without a certificate or with one of another CA is refused', async () => {
    expect(mutual.clientCertificates).toBe(true);
    const ok = await request(mutual, 'GET', '/v1/kv/tls-a', { client: certs.nodes.client as CertificatePair });
    expect(ok.status).toBe(200);
    await expect(request(mutual, 'GET', '/v1/kv/tls-a')).rejects.toThrow();
    await expect(request(mutual, 'GET', '/v1/kv/tls-a', { client: stranger.nodes.client as CertificatePair })).rejects.toThrow();
  });
});

describe('the Redis protocol over TLS', () => {
  it('SET and GET with ioredis over TLS', async () => {
    const redis = tlsRedis(secure, { ca: certs.ca.cert });
    await redis.connect();
    expect(await redis.set('tls-r', 'v1')).toBe('OK');
    expect(await redis.get('tls-r')).toBe('v1');
    expect(await redis.get('tls-a')).toBe('over tls');
  });

  it('a client that trusts another CA fails to connect', async () => {
    const redis = tlsRedis(secure, { ca: stranger.ca.cert });
    const errors: Error[] = [];
    redis.on('error', (error: Error) => errors.push(error));
    await expect(redis.connect()).rejects.toThrow();
    expect(errors.map((error) => error.message).join('; ')).toMatch(/self.signed|unable to verify|certificate/i);
  });

  it('a plaintext RESP client gets no answer', async () => {
    const redis = new Redis({
      host: '127.0.0.1',
      port: secure.resp.port,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    redis.on('error', () => undefined);
    clients.push(redis);
    await expect(
      Promise.race([
        redis.connect().then(() => redis.ping()),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), 3_000)),
      ]),
    ).rejects.toThrow();
  });

  it('with a CA for clients, ioredis needs a certificate of that CA', async () => {
    const withCert = tlsRedis(mutual, { ca: certs.ca.cert, cert: certs.nodes.client?.cert, key: certs.nodes.client?.key });
    await withCert.connect();
    expect(await withCert.get('tls-r')).toBe('v1');
    const without = tlsRedis(mutual, { ca: certs.ca.cert });
    await expect(without.connect().then(() => without.get('tls-r'))).rejects.toThrow();
  });
});

describe('the command line', () => {
  async function run(argv: string[]): Promise<{ code: number; err: string }> {
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
    const code = await main(argv);
    vi.restoreAllMocks();
    return { code, err: err.join('\n') };
  }
  const peers = ['--id', 'n1', '--peers', 'n1=127.0.0.1:7001'];

  it.each([['cluster'], ['node']])(
    'raftkv %s refuses --tls-cert without --tls-key, and the reverse, with exit code 64',
    async (command) => {
      const extra = command === 'node' ? peers : [];
      const cert = path.join(dir, 'server.crt');
      const key = path.join(dir, 'server.key');
      const noKey = await run([command, ...extra, '--tls-cert', cert]);
      expect(noKey.code).toBe(64);
      expect(noKey.err).toContain('--tls-cert needs --tls-key');
      const noCert = await run([command, ...extra, '--tls-key', key]);
      expect(noCert.code).toBe(64);
      expect(noCert.err).toContain('--tls-key needs --tls-cert');
      const caAlone = await run([command, ...extra, '--tls-ca', path.join(dir, 'ca.crt')]);
      expect(caAlone.code).toBe(64);
      const missing = await run([command, ...extra, '--tls-cert', path.join(dir, 'nope.crt'), '--tls-key', key]);
      expect(missing.code).toBe(64);
      expect(missing.err).toContain('cannot read');
      // A key that is not the certificate's.
      const wrongKey = await run([command, ...extra, '--tls-cert', cert, '--tls-key', path.join(dir, 'client.key')]);
      expect(wrongKey.code).toBe(64);
    },
  );

  it('raftkv cluster with --tls-cert and --tls-key announces https:// and redis-cli --tls, and serves them', async () => {
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        ENTRY,
        'cluster',
        '--nodes',
        '1',
        '--memory',
        '--http-port',
        '0',
        '--resp-port',
        '0',
        '--tls-cert',
        path.join(dir, 'server.crt'),
        '--tls-key',
        path.join(dir, 'server.key'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(proc);
    let output = '';
    proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    const url = await waitFor('the HTTPS line', () => /^HTTP API: (https:\/\/\S+)$/m.exec(output)?.[1], 60_000);
    expect(output).toMatch(/^explorer: https:\/\/127\.0\.0\.1:\d+\/$/m);
    const resp = /^Redis protocol \(TLS\): redis-cli --tls --cacert CA\.crt -h 127\.0\.0\.1 -p (\d+)$/m.exec(output);
    expect(resp, output).not.toBeNull();
    await waitFor('a leader line', () => /^leader n1 /m.test(output), 60_000);
    const port = Number(new URL(url).port);
    const health = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/health', ca: certs.ca.cert, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(health).toBe(200);
    proc.kill('SIGINT');
    expect(await exited, output).toBe(0);
  });
});
