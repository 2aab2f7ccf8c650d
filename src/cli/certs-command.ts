/**
 * `raftkv certs`: a certificate authority and one certificate per node for the TCP transport's mutual TLS
 * (src/transport/tcp/security.ts): each node's certificate names its node id as CN and DNS subject
 * alternative name, plus the hosts it is reached at. For a test or a small private cluster; a real
 * deployment may use its own CA, as long as each certificate names its node id.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import forge from 'node-forge';
import { UsageError } from './usage-error.js';

export const CERTS_USAGE = `usage: raftkv certs (--nodes n1,n2,n3 | --count N) [--dir DIR] [--days N] [--hosts h1,h2] [--force]
  Writes DIR/ca.crt and DIR/ca.key (a new certificate authority), and for each node id DIR/<id>.crt and
  DIR/<id>.key: RSA 2048, signed by the CA, whose CN and DNS subject alternative name are the node id, with
  subject alternative names for each of --hosts (default 127.0.0.1,localhost); and DIR/client.crt and
  DIR/client.key, which routers present on the client lanes they dial. Keys are written mode 0600.
  --nodes   node ids, comma-separated          --count  n1..nN instead of --nodes
  --dir     folder to write (default ./certs)   --days   validity in days (default 365)
  --ca DIR  sign with the CA in DIR (ca.crt, ca.key) instead of making one: certificates for a new member; only
            ca.crt is copied into --dir, never the CA's key
  --force   overwrite files that exist (without it, existing files are refused)`;

/** Longest validity accepted: ten years. */
export const CERT_DAYS_MAX = 3650;
/** Most node certificates in one run. */
export const CERT_NODES_MAX = 64;
const RSA_KEY_BITS = 2048;
const DEFAULT_HOSTS = ['127.0.0.1', 'localhost'] as const;
const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

export interface CertificatePair {
  /** PEM. */
  readonly cert: string;
  /** PEM (PKCS#1). */
  readonly key: string;
}

export interface CertificateSet {
  readonly ca: CertificatePair;
  readonly nodes: Readonly<Record<string, CertificatePair>>;
}

export interface GenerateCertificatesOptions {
  readonly nodes: readonly string[];
  /** Validity from now, in days (ignored where notBefore and notAfter are given). */
  readonly days?: number;
  /** Extra subject alternative names: IP addresses or DNS names. */
  readonly hosts?: readonly string[];
  /** The node certificates' validity (tests: an expired certificate). */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Sign with this CA instead of making one (its pair is returned as `ca`). */
  readonly ca?: CertificatePair;
}

export interface MakeCertificatesOptions extends GenerateCertificatesOptions {
  readonly dir: string;
  /** Overwrite existing files. */
  readonly force?: boolean;
}

function rsaKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  // Node's native generator: node-forge's pure-JS one takes seconds per 2048-bit key.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: RSA_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKey: forge.pki.privateKeyFromPem(privateKey), publicKey: forge.pki.publicKeyFromPem(publicKey), pem: privateKey };
}

function serialNumber(): string {
  // Positive (leading 01) and unique enough: 128 random bits.
  return `01${randomBytes(16).toString('hex')}`;
}

function validity(options: GenerateCertificatesOptions): { notBefore: Date; notAfter: Date } {
  const days = options.days ?? 365;
  if (!(Number.isSafeInteger(days) && days >= 1 && days <= CERT_DAYS_MAX)) throw new RangeError(`days must be 1 to ${CERT_DAYS_MAX}`);
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - 60_000); // a minute back: clocks differ a little
  const notAfter = options.notAfter ?? new Date(now + days * 86_400_000);
  if (notAfter.getTime() <= notBefore.getTime()) throw new RangeError('notAfter must be after notBefore');
  return { notBefore, notAfter };
}

function makeCa(days: number): CertificatePair {
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const subject = [{ name: 'commonName', value: `raftkv CA ${randomBytes(4).toString('hex')}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

function makeNode(id: string, hosts: readonly string[], ca: CertificatePair, valid: { notBefore: Date; notAfter: Date }): CertificatePair {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = valid.notBefore;
  cert.validity.notAfter = valid.notAfter;
  cert.setSubject([{ name: 'commonName', value: id }]);
  cert.setIssuer(caCert.subject.attributes);
  const names = [id, ...hosts.filter((host) => host !== id)];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: names.map((value) => (isIP(value) === 0 ? { type: 2, value } : { type: 7, ip: value })) },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

function checkNodes(nodes: readonly string[]): void {
  if (nodes.length === 0 || nodes.length > CERT_NODES_MAX) throw new RangeError(`give 1 to ${CERT_NODES_MAX} node ids`);
  for (const id of nodes) {
    if (!NODE_ID_PATTERN.test(id) || id === 'ca')
      throw new RangeError(`${JSON.stringify(id)} is not a usable node id (letters, digits, '.', '-'; not "ca")`);
  }
  if (new Set(nodes).size !== nodes.length) throw new RangeError('node ids repeat');
}

/** A CA (or the one given) and a certificate per node, in memory (PEM). */
export function generateCertificates(options: GenerateCertificatesOptions): CertificateSet {
  checkNodes(options.nodes);
  const valid = validity(options);
  const ca = options.ca ?? makeCa(options.days ?? 365);
  const hosts = options.hosts ?? DEFAULT_HOSTS;
  const nodes: Record<string, CertificatePair> = {};
  for (const id of options.nodes) nodes[id] = makeNode(id, hosts, ca, valid);
  return { ca, nodes };
}

/** generateCertificates, then writes ca.crt, ca.key, <id>.crt, <id>.key into `dir` (keys mode 0600). Returns the paths written. */
export function makeCertificates(options: MakeCertificatesOptions): { readonly set: CertificateSet; readonly files: readonly string[] } {
  checkNodes(options.nodes);
  // Signed by a CA that exists: its certificate is copied beside the new ones, its key never.
  const names = [
    ...(options.ca === undefined ? ['ca.crt', 'ca.key'] : ['ca.crt']),
    ...options.nodes.flatMap((name) => [`${name}.crt`, `${name}.key`]),
  ];
  const files = names.map((name) => path.join(options.dir, name));
  if (options.force !== true) {
    const existing = files.filter((file) => fs.existsSync(file));
    if (existing.length > 0) throw new Error(`refusing to overwrite ${existing.join(', ')} (use --force)`);
  }
  const set = generateCertificates(options);
  fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const write = (name: string, pair: CertificatePair): void => {
    fs.writeFileSync(path.join(options.dir, `${name}.crt`), pair.cert, { mode: 0o644 });
    const keyFile = path.join(options.dir, `${name}.key`);
    fs.writeFileSync(keyFile, pair.key, { mode: 0o600 });
    fs.chmodSync(keyFile, 0o600); // an existing file keeps its mode on write
  };
  if (options.ca === undefined) write('ca', set.ca);
  else fs.writeFileSync(path.join(options.dir, 'ca.crt'), set.ca.cert, { mode: 0o644 });
  for (const id of options.nodes) write(id, set.nodes[id] as CertificatePair);
  return { set, files };
}

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) throw new UsageError(`${flag} must be a positive integer`, CERTS_USAGE);
  return number;
}

/** Runs `raftkv certs ...`; returns the exit code. */
export async function runCertsCommand(argv: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        nodes: { type: 'string' },
        count: { type: 'string' },
        dir: { type: 'string', default: './certs' },
        days: { type: 'string' },
        hosts: { type: 'string' },
        ca: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, CERTS_USAGE);
  }
  if (values.help) {
    out(CERTS_USAGE);
    return 0;
  }
  const count = integer(values.count, '--count');
  let nodes = list(values.nodes);
  if ((nodes === undefined) === (count === undefined)) throw new UsageError('give --nodes or --count (one of them)', CERTS_USAGE);
  if (count !== undefined) {
    if (count > CERT_NODES_MAX) throw new UsageError(`--count must be at most ${CERT_NODES_MAX}`, CERTS_USAGE);
    nodes = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  }
  const days = integer(values.days, '--days');
  const hosts = list(values.hosts);
  let ca: CertificatePair | undefined;
  if (values.ca !== undefined) {
    try {
      ca = { cert: fs.readFileSync(path.join(values.ca, 'ca.crt'), 'utf8'), key: fs.readFileSync(path.join(values.ca, 'ca.key'), 'utf8') };
    } catch (error) {
      throw new UsageError(`--ca ${values.ca}: ${(error as Error).message}`, CERTS_USAGE);
    }
  }
  try {
    // Routers (raftkv node, the supervisor of --processes) dial nodes' client lanes as `client`.
    const ids = nodes as string[];
    const { files } = makeCertificates({
      nodes: ids.includes('client') ? ids : [...ids, 'client'],
      dir: values.dir,
      ...(days === undefined ? {} : { days }),
      ...(hosts === undefined ? {} : { hosts }),
      ...(ca === undefined ? {} : { ca }),
      force: values.force,
    });
    out(`wrote ${files.length} files to ${values.dir}: ${files.map((file) => path.basename(file)).join(' ')}`);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message, CERTS_USAGE);
    throw error;
  }
  return 0;
}
