import { describe, expect, it } from 'vitest';
import { WriteCoordinator, type SubmitOutcome } from '../src/queue/write-coordinator.js';
import { deferred, flush, type Deferred } from './helpers/queue-helpers.js';

/** A write function whose calls the test completes by hand. */
function manualWriter() {
  const calls: Array<{ value: string; signal: AbortSignal; done: Deferred<string> }> = [];
  const write = (value: string, signal: AbortSignal): Promise<string> => {
    const done = deferred<string>();
    calls.push({ value, signal, done });
    return done.promise;
  };
  return { calls, write };
}

describe('WriteCoordinator', () => {
  it('runs one write per key at a time and keeps only the newest queued value', async () => {
    const c = new WriteCoordinator<string>();
    const w = manualWriter();
    const v1 = c.submit('alice', 'v1', w.write);
    const v2 = c.submit('alice', 'v2', w.write);
    const v3 = c.submit('alice', 'v3', w.write);
    expect(w.calls.map((x) => x.value)).toEqual(['v1']);
    expect(c.size).toBe(2);
    expect(c.inFlightKeys()).toEqual(['alice']);
    await expect(v2).resolves.toEqual({ kind: 'superseded' });

    w.calls[0]!.done.resolve('wrote v1');
    await expect(v1).resolves.toEqual({ kind: 'done', result: 'wrote v1' });
    await flush();
    expect(w.calls.map((x) => x.value)).toEqual(['v1', 'v3']);
    w.calls[1]!.done.resolve('wrote v3');
    await expect(v3).resolves.toEqual({ kind: 'done', result: 'wrote v3' });
    await c.idle();
    expect(c.size).toBe(0);
    expect(c.inFlightKeys()).toEqual([]);
  });

  it('does not order different keys against each other', () => {
    const c = new WriteCoordinator<string>();
    const w = manualWriter();
    void c.submit('alice', 'a1', w.write);
    void c.submit('bob', 'b1', w.write);
    expect(w.calls.map((x) => x.value)).toEqual(['a1', 'b1']);
    expect(c.inFlightKeys().sort()).toEqual(['alice', 'bob']);
  });

  it('reports a failed write and still runs the value queued behind it', async () => {
    const c = new WriteCoordinator<string>();
    const w = manualWriter();
    const first = c.submit('alice', 'v1', w.write);
    const second = c.submit('alice', 'v2', w.write);
    const boom = new Error('409 Conflict');
    w.calls[0]!.done.reject(boom);
    await expect(first).resolves.toEqual({ kind: 'failed', error: boom });
    await flush();
    w.calls[1]!.done.resolve('ok');
    await expect(second).resolves.toEqual({ kind: 'done', result: 'ok' });
  });

  it('turns a write that throws synchronously into a failed outcome', async () => {
    const c = new WriteCoordinator<string>();
    const boom = new Error('bad body');
    const outcome = await c.submit('alice', 'v1', () => {
      throw boom;
    });
    expect(outcome).toEqual({ kind: 'failed', error: boom });
    await c.idle();
  });

  it('close cancels queued values, refuses new ones, and lets the in-flight write finish', async () => {
    const c = new WriteCoordinator<string>();
    const w = manualWriter();
    const running = c.submit('alice', 'v1', w.write);
    const queued = c.submit('alice', 'v2', w.write);
    c.close();
    expect(c.closed).toBe(true);
    await expect(queued).resolves.toEqual({ kind: 'cancelled' });
    await expect(c.submit('bob', 'b1', w.write)).resolves.toEqual({ kind: 'cancelled' });
    expect(w.calls[0]!.signal.aborted).toBe(false);
    w.calls[0]!.done.resolve('finished');
    await expect(running).resolves.toEqual({ kind: 'done', result: 'finished' });
    await c.idle();
    expect(w.calls.map((x) => x.value)).toEqual(['v1']);
  });

  it('close with abortInFlight fires the signal the in-flight write was given', async () => {
    const c = new WriteCoordinator<string>();
    const running = c.submit(
      'alice',
      'v1',
      (_value, signal) =>
        new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    c.close({ abortInFlight: true });
    const outcome: SubmitOutcome<string> = await running;
    expect(outcome.kind).toBe('failed');
    await c.idle();
  });

  it('idle waits for every key', async () => {
    const c = new WriteCoordinator<string>();
    const w = manualWriter();
    void c.submit('alice', 'a1', w.write);
    void c.submit('bob', 'b1', w.write);
    let idle = false;
    const waiting = c.idle().then(() => {
      idle = true;
    });
    w.calls[0]!.done.resolve('a');
    await flush();
    expect(idle).toBe(false);
    w.calls[1]!.done.resolve('b');
    await waiting;
    expect(idle).toBe(true);
  });
});
