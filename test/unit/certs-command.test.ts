// `raftkv certs` (src/cli/certs-command.ts): the files it writes, the names and SANs in them, the key files' mode.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CERTS_USAGE, makeCertificates, runCertsCommand } from '../../src/cli/certs-command.js';
import { UsageError } from '../../src/cli/usage-error.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-certs-'));
  dirs.push(dir);
  return dir;
}

function certificate(dir: string, name: string): X509Certificate {
  return new X509Certificate(fs.readFileSync(path.join(dir, `${name}.crt`)));
}

describe('raftkv certs', () => {
  it('--nodes writes a CA and a certificate per node naming the node (CN and DNS SAN) and the default hosts', async () => {
    const dir = path.join(tempDir(), 'certs');
    const lines: string[] = [];
    expect(await runCertsCommand(['--nodes', 'n1,n2,n3', '--dir', dir, '--days', '30'], (line) => lines.push(line))).toBe(0);
    // The nodes' certificates, and the one routers present on the client lanes they dial.
    expect(fs.readdirSync(dir).sort()).toEqual(
      ['ca.crt', 'ca.key', 'client.crt', 'client.key', 'n1.crt', 'n1.key', 'n2.crt', 'n2.key', 'n3.crt', 'n3.key'].sort(),
    );
    expect(lines[0]).toContain('wrote 10 files');
    const ca = certificate(dir, 'ca');
    expect(ca.ca).toBe(true);
    for (const id of ['n1', 'n2', 'n3', 'client']) {
      const cert = certificate(dir, id);
      expect(cert.subject).toBe(`CN=${id}`);
      expect(cert.subjectAltName?.split(', ').sort()).toEqual([`DNS:${id}`, 'DNS:localhost', 'IP Address:127.0.0.1'].sort());
      expect(cert.ca).toBe(false);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
      const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(29);
      expect(days).toBeLessThan(31);
    }
    for (const name of ['ca', 'n1', 'n2', 'n3']) expect(fs.statSync(path.join(dir, `${name}.key`)).mode & 0o777).toBe(0o600);
    // The key matches its certificate.
    const key = fs.readFileSync(path.join(dir, 'n1.key'), 'utf8');
    expect(certificate(dir, 'n1').checkPrivateKey(createPrivateKey(key))).toBe(true);
  });

  it('--count and --hosts', async () => {
    const dir = tempDir();
    expect(await runCertsCommand(['--count', '2', '--dir', dir, '--hosts', '10.0.0.5,db.example'], () => undefined)).toBe(0);
    expect(fs.existsSync(path.join(dir, 'n2.crt'))).toBe(true);
    expect(certificate(dir, 'n2').subjectAltName?.split(', ').sort()).toEqual(['DNS:db.example', 'DNS:n2', 'IP Address:10.0.0.5']);
  });

  it('refuses to overwrite without --force, and overwrites with it', async () => {
    const dir = tempDir();
    makeCertificates({ nodes: ['n1'], dir });
    const before = fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    expect(() => makeCertificates({ nodes: ['n1'], dir })).toThrow(/refusing to overwrite/);
    expect(await runCertsCommand(['--nodes', 'n1', '--dir', dir, '--force'], () => undefined)).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8')).not.toBe(before);
  });

  it('--ca signs a new member with the existing CA, copying its certificate and never its key', async () => {
    const first = tempDir();
    expect(await runCertsCommand(['--nodes', 'n1', '--dir', first], () => undefined)).toBe(0);
    const more = tempDir();
    expect(await runCertsCommand(['--nodes', 'n4', '--dir', more, '--ca', first], () => undefined)).toBe(0);
    // The router certificate is made too: routers of the new member dial client lanes with it.
    expect(fs.readdirSync(more).sort()).toEqual(['ca.crt', 'client.crt', 'client.key', 'n4.crt', 'n4.key']);
    expect(fs.readFileSync(path.join(more, 'ca.crt'), 'utf8')).toBe(fs.readFileSync(path.join(first, 'ca.crt'), 'utf8'));
    expect(certificate(more, 'n4').checkIssued(certificate(first, 'ca'))).toBe(true);
    await expect(runCertsCommand(['--nodes', 'n5', '--dir', tempDir(), '--ca', tempDir()], () => undefined)).rejects.toBeInstanceOf(
      UsageError,
    );
  });

  it('--help prints the usage; mistakes are usage errors', async () => {
    const lines: string[] = [];
    expect(await runCertsCommand(['--help'], (line) => lines.push(line))).toBe(0);
    expect(lines).toEqual([CERTS_USAGE]);
    await expect(runCertsCommand([], () => undefined)).rejects.toBeInstanceOf(UsageError);
    await expect(runCertsCommand(['--nodes', 'n1', '--count', '2'], () => undefined)).rejects.toBeInstanceOf(UsageError);
    await expect(runCertsCommand(['--nodes', 'bad id', '--dir', tempDir()], () => undefined)).rejects.toBeInstanceOf(UsageError);
    await expect(runCertsCommand(['--count', '0'], () => undefined)).rejects.toBeInstanceOf(UsageError);
    await expect(runCertsCommand(['--nodes', 'n1', '--bogus'], () => undefined)).rejects.toBeInstanceOf(UsageError);
  });
});
