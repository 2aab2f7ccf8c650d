// Reads what a TCP node needs to authenticate its peers (PeerSecuritySettings: file names that cross to the
// node) into the transport's PeerSecurity (the keys and certificates themselves).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PeerSecuritySettings } from '../protocol/node.js';
import type { NodeId } from '../raft/types.js';
import type { PeerSecurity } from './tcp/security.js';

/**
 * The certificate files `raftkv certs` writes in `dir` for node `id`, or for the routers and tools that dial
 * a node's client lane (`client`).
 */
export function certificateFiles(dir: string, id: NodeId | 'client'): { ca: string; cert: string; key: string } {
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, `${id}.crt`), key: path.join(dir, `${id}.key`) };
}

/** What `settings` names, read: a node reads its own certificate, a router (`client`) the client one. */
export function loadPeerSecurity(settings: PeerSecuritySettings, id: NodeId | 'client'): PeerSecurity {
  switch (settings.mode) {
    case 'plaintext':
      return { mode: 'plaintext' };
    case 'psk': {
      const key = fs.readFileSync(settings.keyFile);
      const trimmed = key.toString('utf8').trim();
      if (trimmed.length < 16) throw new Error(`the pre-shared key in ${settings.keyFile} is shorter than 16 characters`);
      return { mode: 'psk', key: new TextEncoder().encode(trimmed) };
    }
    case 'tls': {
      const files = certificateFiles(settings.certDir, id);
      return { mode: 'tls', ca: fs.readFileSync(files.ca), cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key) };
    }
  }
}
