/**
 * A small lab of Linux network namespaces for multi-host tests: one bridge in the root namespace with an address
 * of a private /24 (so the test process reaches every host through it), and one namespace per host, each joined
 * to the bridge by a veth pair (`eth0` inside, `rkv<pid>h<k>` on the bridge) with the address `.k` of the /24.
 * Faults: a host's veth brought down from the root side (it hears nobody, nobody hears it), or nft drop rules
 * inside a host's namespace against chosen addresses (a partition that leaves the test process's traffic alone).
 *
 * Everything made has a name known before it is made, so `destroy()` removes it all, idempotently, even after a
 * half-done set-up: it kills every process started in a lab namespace (by pid), then deletes the namespaces
 * (their veths and nft tables go with them) and the bridge. Needs root, `ip` (iproute2) and `nft` (nftables).
 */
import { execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The nft table a partition adds inside a host's namespace. */
const PARTITION_TABLE = 'rkvpart';
/** A /24 of 10.231.0.0/16 is tried from the pid up; past this many clashes with addresses in use, give up. */
const SUBNET_TRIES_MAX = 50;
/** How long destroy() waits for a killed process to exit before going on. */
const EXIT_WAIT_MS = 5_000;

/** `tool`'s path: on PATH, or in the sbin folders a non-login shell's PATH may lack. */
function toolPath(tool: string): string | null {
  const folders = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const folder of folders.filter((item) => item !== '')) {
    const candidate = path.join(folder, tool);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const IP = toolPath('ip') ?? 'ip';
const NFT = toolPath('nft') ?? 'nft';

/** Why the lab cannot run here, or null when it can: root, `ip` and `nft` are needed. */
export function netnsProblem(): string | null {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push(`root (running as uid ${process.getuid?.() ?? 'unknown'})`);
  for (const [tool, pkg] of [
    [IP, 'iproute2'],
    [NFT, 'nftables'],
  ] as const) {
    const probe = spawnSync(tool, ['-V'], { stdio: 'ignore' });
    if (probe.error !== undefined || probe.status !== 0) missing.push(`\`${path.basename(tool)}\` (Debian package ${pkg})`);
  }
  return missing.length === 0
    ? null
    : `the network-namespace test needs ${missing.join(', ')}: CI installs iproute2 and nftables and runs as root`;
}

export interface LabHost {
  readonly id: string;
  /** 1 to 253: the host's address is `${subnet}.${index}`. */
  readonly index: number;
  readonly namespace: string;
  readonly address: string;
  /** The veth end on the bridge, in the root namespace. */
  readonly vethHost: string;
}

async function ip(...args: string[]): Promise<void> {
  await run(IP, args);
}

/** Runs `command`, ignoring failure (for removing what may not exist); answers its error text, if any. */
function tryRun(command: string, args: readonly string[]): string | null {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error !== undefined) return result.error.message;
  return result.status === 0 ? null : `${command} ${args.join(' ')}: ${result.stderr.trim()}`;
}

export class NetnsLab {
  /** The first three octets of the lab's /24, e.g. `10.231.57`. */
  readonly subnet: string;
  readonly bridge: string;
  /** The bridge's own address: the root namespace's (the test process's) address on the lab's network. */
  readonly hostAddress: string;
  private readonly prefix: string;
  private readonly hosts = new Map<string, LabHost>();
  private readonly children = new Set<ChildProcess>();
  private bridgeMade = false;
  private exitHook: (() => void) | null = null;

  constructor() {
    this.prefix = `rkv${process.pid}`;
    this.bridge = `rkvbr${process.pid % 100_000}`;
    this.subnet = NetnsLab.freeSubnet();
    this.hostAddress = `${this.subnet}.254`;
    // A last resort if the test process exits without its afterAll (a worker killed on timeout runs no hooks).
    this.exitHook = () => this.destroySync();
    process.once('exit', this.exitHook);
  }

  /** A /24 of 10.231.0.0/16 no interface or route of this machine uses yet, picked from the pid. */
  private static freeSubnet(): string {
    const used = `${spawnSync(IP, ['-o', '-4', 'addr'], { encoding: 'utf8' }).stdout}\n${spawnSync(IP, ['-4', 'route'], { encoding: 'utf8' }).stdout}`;
    for (let i = 0; i < SUBNET_TRIES_MAX; i++) {
      const subnet = `10.231.${(process.pid + i) % 250}`;
      if (!used.includes(`${subnet}.`)) return subnet;
    }
    throw new Error(`no free /24 in 10.231.0.0/16 after ${SUBNET_TRIES_MAX} tries`);
  }

  /** The bridge, with the lab's address for the root namespace. */
  async start(): Promise<void> {
    this.bridgeMade = true; // registered before it exists: destroy() removes it whatever happens next
    tryRun(IP, ['link', 'del', this.bridge]); // a leftover of an earlier process with this pid
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${this.hostAddress}/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
  }

  host(id: string): LabHost {
    const host = this.hosts.get(id);
    if (host === undefined) throw new Error(`no lab host ${id}`);
    return host;
  }

  /** A namespace for `id` with `lo` up and `eth0` at `${subnet}.${index}` on the bridge. */
  async addHost(id: string, index: number): Promise<LabHost> {
    if (!Number.isInteger(index) || index < 1 || index > 253) throw new RangeError(`host index ${index} is not 1 to 253`);
    if (this.hosts.has(id)) throw new Error(`lab host ${id} exists`);
    const host: LabHost = {
      id,
      index,
      namespace: `${this.prefix}-${id}`,
      address: `${this.subnet}.${index}`,
      vethHost: `${this.prefix}h${index}`,
    };
    this.hosts.set(id, host); // registered before it exists, as the bridge
    tryRun(IP, ['netns', 'del', host.namespace]);
    tryRun(IP, ['link', 'del', host.vethHost]);
    const vethPeer = `${this.prefix}p${index}`;
    await ip('netns', 'add', host.namespace);
    await ip('link', 'add', host.vethHost, 'type', 'veth', 'peer', 'name', vethPeer);
    await ip('link', 'set', vethPeer, 'netns', host.namespace);
    await ip('-n', host.namespace, 'link', 'set', vethPeer, 'name', 'eth0');
    await ip('-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
    await ip('-n', host.namespace, 'link', 'set', 'eth0', 'up');
    await ip('-n', host.namespace, 'link', 'set', 'lo', 'up');
    await ip('link', 'set', host.vethHost, 'master', this.bridge);
    await ip('link', 'set', host.vethHost, 'up');
    return host;
  }

  /** Starts `command` inside the host's namespace (`ip netns exec` execs it: the child's pid is the command's). */
  spawn(id: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(IP, ['netns', 'exec', this.host(id).namespace, command, ...args], options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Cuts the host off the bridge: its veth goes down on the root side. */
  async linkDown(id: string): Promise<void> {
    await ip('link', 'set', this.host(id).vethHost, 'down');
  }

  async linkUp(id: string): Promise<void> {
    await ip('link', 'set', this.host(id).vethHost, 'up');
  }

  /** Drops, inside the host's namespace, every packet from or to `addresses` (an nft inet table). */
  async block(id: string, addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) throw new RangeError('block: no address to block');
    const set = `{ ${addresses.join(', ')} }`;
    const script = [
      `table inet ${PARTITION_TABLE} {`,
      `  chain input { type filter hook input priority 0; policy accept; ip saddr ${set} drop; }`,
      `  chain output { type filter hook output priority 0; policy accept; ip daddr ${set} drop; }`,
      `}`,
    ].join('\n');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(IP, ['netns', 'exec', this.host(id).namespace, NFT, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let errors = '';
      child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft in ${id}: exit ${code}: ${errors.trim()}`))));
      child.stdin.end(script);
    });
  }

  /** Removes the host's nft drop rules. */
  async unblock(id: string): Promise<void> {
    await run(IP, ['netns', 'exec', this.host(id).namespace, NFT, 'delete', 'table', 'inet', PARTITION_TABLE]);
  }

  /** The pids of every process in the host's namespace. */
  private pidsIn(host: LabHost): number[] {
    const listed = spawnSync(IP, ['netns', 'pids', host.namespace], { encoding: 'utf8' });
    return (listed.stdout ?? '')
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  }

  /**
   * Kills every process this lab started or that runs in one of its namespaces, then removes the namespaces and
   * the bridge. Safe to call twice and after a failed set-up; answers what could not be removed (nothing, usually).
   */
  async destroy(): Promise<string[]> {
    const exits = [...this.children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(resolve, EXIT_WAIT_MS);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGKILL');
        }),
    );
    await Promise.all(exits);
    return this.destroySync();
  }

  private destroySync(): string[] {
    const problems: string[] = [];
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const host of this.hosts.values()) {
      for (const pid of this.pidsIn(host)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      tryRun(IP, ['netns', 'del', host.namespace]);
      tryRun(IP, ['link', 'del', host.vethHost]); // gone with the namespace, unless the move failed
    }
    if (this.bridgeMade) tryRun(IP, ['link', 'del', this.bridge]);
    for (const host of this.hosts.values()) {
      if (tryRun(IP, ['netns', 'pids', host.namespace]) === null) problems.push(`namespace ${host.namespace} is still there`);
    }
    if (this.bridgeMade && tryRun(IP, ['link', 'show', this.bridge]) === null) problems.push(`bridge ${this.bridge} is still there`);
    if (this.exitHook !== null) {
      process.removeListener('exit', this.exitHook);
      this.exitHook = null;
    }
    return problems;
  }
}
