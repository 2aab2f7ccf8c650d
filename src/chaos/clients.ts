import * as http from 'node:http';
import * as net from 'node:net';

/** How one client call ended, in Jepsen's terms: it happened, it surely did not, or nobody knows. */
export type CallOutcome<T> =
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'fail'; readonly code: string }
  | { readonly status: 'info'; readonly code: string };

/** A keep-alive HTTP client for the KV API. Errors the API calls indefinite, and timeouts, come back `info`. */
export class KvHttpClient {
  private readonly agent: http.Agent;

  constructor(
    private readonly port: number,
    private readonly host = '127.0.0.1',
    private readonly timeoutMs = 3_000,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(method: string, path: string, body?: string): Promise<CallOutcome<{ status: number; json: Record<string, unknown> }>> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: CallOutcome<{ status: number; json: Record<string, unknown> }>): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const req = http.request({ host: this.host, port: this.port, method, path, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            settle({ status: 'info', code: 'BAD_RESPONSE' });
            return;
          }
          const status = res.statusCode ?? 0;
          const error = json.error as { code?: string; definite?: boolean } | undefined;
          // A 404 is an answer (no such key), unless it names another error (UNKNOWN_NODE for a pinned read).
          if (status < 300 || (status === 404 && (error?.code ?? 'KEY_NOT_FOUND') === 'KEY_NOT_FOUND')) {
            settle({ status: 'ok', value: { status, json } });
            return;
          }
          const code = error?.code ?? `HTTP_${status}`;
          settle(error?.definite === true ? { status: 'fail', code } : { status: 'info', code });
        });
        res.on('error', () => settle({ status: 'info', code: 'CONNECTION_LOST' }));
      });
      req.on('timeout', () => {
        req.destroy();
        settle({ status: 'info', code: 'TIMEOUT' });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        // Refused before anything was sent: surely not applied. Anything else: unknown.
        settle(
          error.code === 'ECONNREFUSED' ? { status: 'fail', code: 'ECONNREFUSED' } : { status: 'info', code: error.code ?? 'NETWORK' },
        );
      });
      if (body !== undefined) req.end(body);
      else req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

type RespReply = string | number | null | { error: string } | RespReply[];

/** A minimal Redis-protocol client: one connection, one command at a time. */
export class RespClient {
  private socket: net.Socket | null = null;
  private buffer = Buffer.alloc(0);
  private waiting: ((reply: RespReply | Error) => void) | null = null;

  constructor(
    private readonly port: number,
    private readonly host = '127.0.0.1',
    private readonly timeoutMs = 3_000,
  ) {}

  async command(args: readonly string[]): Promise<CallOutcome<RespReply>> {
    try {
      const socket = await this.connect();
      const reply = await new Promise<RespReply | Error>((resolve) => {
        const timer = setTimeout(() => {
          this.waiting = null;
          this.reset();
          resolve(new Error('TIMEOUT'));
        }, this.timeoutMs);
        this.waiting = (r) => {
          clearTimeout(timer);
          resolve(r);
        };
        socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
      });
      if (reply instanceof Error) return { status: 'info', code: reply.message };
      if (typeof reply === 'object' && reply !== null && !Array.isArray(reply)) {
        const prefix = reply.error.split(' ')[0] ?? 'ERR';
        // TRYAGAIN (no quorum) and refusals surely did not happen; TIMEOUT and errors that say so may have.
        const unknown = prefix === 'TIMEOUT' || reply.error.includes('outcome is unknown');
        return unknown ? { status: 'info', code: prefix } : { status: 'fail', code: prefix };
      }
      return { status: 'ok', value: reply };
    } catch (error) {
      this.reset();
      const code = (error as NodeJS.ErrnoException).code ?? 'NETWORK';
      return code === 'ECONNREFUSED' ? { status: 'fail', code } : { status: 'info', code };
    }
  }

  close(): void {
    this.reset();
  }

  private reset(): void {
    this.socket?.destroy();
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.(new Error('CONNECTION_LOST'));
  }

  private connect(): Promise<net.Socket> {
    if (this.socket !== null) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, this.host);
      socket.setNoDelay(true);
      socket.once('connect', () => {
        this.socket = socket;
        resolve(socket);
      });
      socket.once('error', (error) => {
        if (this.socket === socket) this.reset();
        reject(error);
      });
      socket.on('close', () => {
        if (this.socket === socket) this.reset();
      });
      socket.on('data', (chunk: Buffer) => {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        const parsed = parseReply(this.buffer, 0);
        if (parsed === null) return;
        this.buffer = this.buffer.subarray(parsed.next);
        const waiting = this.waiting;
        this.waiting = null;
        waiting?.(parsed.value);
      });
    });
  }
}

function parseReply(buffer: Buffer, offset: number): { value: RespReply; next: number } | null {
  const end = buffer.indexOf('\r\n', offset);
  if (end === -1) return null;
  const line = buffer.toString('utf8', offset + 1, end);
  switch (buffer[offset]) {
    case 0x2b: // +
      return { value: line, next: end + 2 };
    case 0x2d: // -
      return { value: { error: line }, next: end + 2 };
    case 0x3a: // :
      return { value: Number(line), next: end + 2 };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, next: end + 2 };
      if (buffer.byteLength < end + 2 + length + 2) return null;
      return { value: buffer.toString('utf8', end + 2, end + 2 + length), next: end + 2 + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      const items: RespReply[] = [];
      let next = end + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === null) return null;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      return { value: { error: `bad reply byte ${buffer[offset]}` }, next: end + 2 };
  }
}
