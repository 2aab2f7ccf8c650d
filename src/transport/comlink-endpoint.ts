import type { Endpoint } from 'comlink';
import type { MessagePort } from 'node:worker_threads';

type Listener = (event: { data: unknown }) => void;

/** A channel of messages as comlink needs it: send one, and subscribe to the arriving ones by a handler. */
export interface MessageSource {
  post(data: unknown, transfer?: readonly unknown[]): void;
  on(handler: (data: unknown) => void): void;
  off(handler: (data: unknown) => void): void;
  start?(): void;
}

/** Adapts a Node-style message channel to the DOM-style endpoint comlink expects. */
export function sourceEndpoint(source: MessageSource): Endpoint {
  const wrapped = new Map<unknown, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: readonly unknown[]) => source.post(message, transfer),
    addEventListener: (_type: string, listener: unknown) => {
      const handler = (data: unknown): void => {
        if (typeof listener === 'function') (listener as Listener)({ data });
        else (listener as { handleEvent: Listener }).handleEvent({ data });
      };
      wrapped.set(listener, handler);
      source.on(handler);
    },
    removeEventListener: (_type: string, listener: unknown) => {
      const handler = wrapped.get(listener);
      if (handler === undefined) return;
      source.off(handler);
      wrapped.delete(listener);
    },
    start: () => source.start?.(),
  };
}

/** Adapts a Node MessagePort to the DOM-style endpoint comlink expects. */
export function portEndpoint(port: MessagePort): Endpoint {
  return sourceEndpoint({
    post: (message, transfer) => port.postMessage(message, transfer as never),
    on: (handler) => port.on('message', handler),
    off: (handler) => port.off('message', handler),
    start: () => port.start(),
  });
}

/**
 * The control messages of an IPC channel (a child process's `process`, or the parent's ChildProcess) as a
 * comlink endpoint: each message is wrapped as `{type: 'control', data}`, so the channel carries other kinds too.
 */
export function ipcControlEndpoint(channel: {
  readonly connected: boolean;
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}): Endpoint {
  const unwrapped = new Map<(data: unknown) => void, (message: unknown) => void>();
  return sourceEndpoint({
    post: (data) => {
      if (channel.connected) channel.send?.({ type: 'control', data });
    },
    on: (handler) => {
      const onMessage = (message: unknown): void => {
        const m = message as { type?: unknown; data?: unknown };
        if (m.type === 'control') handler(m.data);
      };
      unwrapped.set(handler, onMessage);
      channel.on('message', onMessage);
    },
    off: (handler) => {
      const onMessage = unwrapped.get(handler);
      if (onMessage === undefined) return;
      channel.off('message', onMessage);
      unwrapped.delete(handler);
    },
  });
}
