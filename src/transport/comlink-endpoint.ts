import type { Endpoint } from 'comlink';
import type { MessagePort } from 'node:worker_threads';

type Listener = (event: { data: unknown }) => void;

/** Adapts a Node MessagePort to the DOM-style endpoint comlink expects. */
export function portEndpoint(port: MessagePort): Endpoint {
  const wrapped = new Map<unknown, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: readonly unknown[]) => port.postMessage(message, transfer as never),
    addEventListener: (_type: string, listener: unknown) => {
      const handler = (data: unknown): void => {
        if (typeof listener === 'function') (listener as Listener)({ data });
        else (listener as { handleEvent: Listener }).handleEvent({ data });
      };
      wrapped.set(listener, handler);
      port.on('message', handler);
    },
    removeEventListener: (_type: string, listener: unknown) => {
      const handler = wrapped.get(listener);
      if (handler === undefined) return;
      port.off('message', handler);
      wrapped.delete(listener);
    },
    start: () => port.start(),
  };
}
