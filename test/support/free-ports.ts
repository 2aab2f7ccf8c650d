import * as net from 'node:net';

/**
 * `count` loopback ports free now (each bound to port 0, read, and closed): for a test that must tell several
 * processes each other's addresses before any of them starts. Another process could take one meanwhile; on a
 * test machine's loopback that is rare, and a node that cannot bind says so and exits.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
