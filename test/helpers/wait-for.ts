/** Waiting on a condition or an event instead of sleeping a fixed time. */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Resolves once `predicate()` is true, checking again after every turn of the event loop
 * (setImmediate runs behind all pending promise continuations and I/O callbacks, so no fixed
 * interval is guessed). Rejects after `timeoutMs` of wall-clock time so a broken wait fails
 * with a message instead of hanging until the test timeout.
 */
export async function until(predicate: () => boolean, opts: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Starts listening for the next request an HTTP server on `origin` receives for `path`
 * (Node's `http.server.request.start` diagnostics channel, published when the request's
 * headers have been parsed). Call it before sending the request; the returned promise
 * resolves once the server has read the whole request body and every continuation queued by
 * that has run (the handler has moved past reading the body).
 */
export function nextServerRequest(origin: string, path: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const port = Number(new URL(origin).port);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe('http.server.request.start', onStart);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a request to ${path} on ${origin}`));
    }, timeoutMs);
    function onStart(message: unknown): void {
      const { request, server } = message as { request: IncomingMessage; server: Server };
      const address = server.address() as AddressInfo | null;
      if (address?.port !== port || request.url?.split('?')[0] !== path) return;
      unsubscribe('http.server.request.start', onStart);
      const bodyRead = new Promise<void>((done) => {
        if (request.readableEnded) done();
        else request.once('end', () => done());
      });
      // setImmediate: let the server's own 'end' listener and the promise continuations it starts run first.
      void bodyRead.then(() =>
        setImmediate(() => {
          clearTimeout(timer);
          resolve();
        }),
      );
    }
    subscribe('http.server.request.start', onStart);
  });
}
