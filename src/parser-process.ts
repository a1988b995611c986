/**
 * The parser process for large desired-state files: a child with a heap limit of its own, so a
 * file too large for it ends that process, not the daemon that keeps its last good state. One
 * process, one file at a time (the memory bound is one parse heap however many files are read),
 * kept while files keep coming and ended after IDLE_MS: a second file (`plan --against`, the
 * next edit) finds it started and warm, and an idle daemon holds no parser memory.
 *
 * Requests go to the child's stdin as frames (a 4-byte big-endian length, the clock as an 8-byte
 * double, then the bytes); answers
 * come back over IPC as JSON, cheaper than the structured-clone format for a DesiredState.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParseReply } from './parse-bytes.js';

/**
 * The parser's heap (V8 old generation), in a child process: building the yaml tree takes about
 * 3 KB a user, so 192 MB hold about 60,000 users. A file that needs more is refused with a
 * message, and the process that asked (the daemon, on its last good state) carries on.
 * A child process rather than a worker thread, because a `--max-old-space-size` in NODE_OPTIONS
 * overrides a worker's own heap limit; the child gets its own flags and none of the parent's.
 * With the daemon's own heap this fits the shipped Deployment's 512Mi memory limit (README
 * "Security model").
 */
export const PARSER_HEAP_MB = 192;
const IDLE_MS = 2_000;
/** Enough of the parser's stderr to recognise V8's out-of-memory message. */
const MAX_STDERR_CHARS = 4096;
/** The parser's script sits beside this module, in dist/ (built by tsc). */
const SCRIPT = fileURLToPath(new URL('./parse-child.js', import.meta.url));

export type ParserOutcome =
  ParseReply | { readonly kind: 'out-of-memory' } | { readonly kind: 'crashed'; readonly message: string };

interface Parser {
  readonly child: ChildProcess;
  /** Set while a request waits for its answer. */
  waiting?: (outcome: ParserOutcome) => void;
  idle?: NodeJS.Timeout;
  stderr: string;
}

let parser: Parser | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** `now`: the clock the expired-grant warning is judged by. */
export function parseInParserProcess(bytes: Uint8Array, now: number): Promise<ParserOutcome> {
  const run = queue.then(() => request(bytes, now));
  queue = run.catch(() => undefined);
  return run;
}

function start(): Parser {
  // No environment (it holds credentials the parser has no use for), so none of the parent's
  // NODE_OPTIONS either: a --max-old-space-size there would replace the parser's own limit.
  const child = fork(SCRIPT, [], {
    // A small young generation keeps the peak down: the tree is garbage the moment the walk ends.
    execArgv: [`--max-old-space-size=${PARSER_HEAP_MB}`, '--max-semi-space-size=2'],
    env: {},
    stdio: ['pipe', 'ignore', 'pipe', 'ipc'],
  });
  const p: Parser = { child, stderr: '' };
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    p.stderr = (p.stderr + chunk).slice(-MAX_STDERR_CHARS);
  });
  // A parser that dies mid-request closes stdin: its exit says what happened, not EPIPE.
  child.stdin?.on('error', () => undefined);
  child.on('message', (reply: ParseReply) => answer(p, reply));
  child.on('error', (err) => {
    if (parser === p) parser = undefined;
    answer(p, { kind: 'crashed', message: err.message });
  });
  child.on('close', (code, signal) => {
    if (parser === p) parser = undefined;
    clearTimeout(p.idle);
    if (/heap out of memory|Reached heap limit/.test(p.stderr)) answer(p, { kind: 'out-of-memory' });
    // SIGKILL: most likely the kernel's OOM killer (a container memory limit below the parse heap).
    else if (signal === 'SIGKILL') answer(p, { kind: 'out-of-memory' });
    else answer(p, { kind: 'crashed', message: `the parser stopped (${signal ?? `exit code ${String(code)}`})` });
  });
  return p;
}

function answer(p: Parser, outcome: ParserOutcome): void {
  const waiting = p.waiting;
  p.waiting = undefined;
  if (!waiting) return;
  setRef(p, false);
  p.idle = setTimeout(() => retire(p), IDLE_MS).unref();
  waiting(outcome);
}

/** Ends an idle parser; a request from now on starts a new one rather than writing to a closing pipe. */
function retire(p: Parser): void {
  if (parser === p) parser = undefined;
  p.child.stdin?.end();
}

/** Only a waiting request keeps the parent's event loop alive: an idle parser never holds a CLI open. */
function setRef(p: Parser, ref: boolean): void {
  // The pipes are net.Sockets, which Node types only as streams.
  const pipes = [p.child.stdin, p.child.stderr] as unknown as (Refable | null)[];
  for (const handle of [p.child, p.child.channel, ...pipes]) {
    if (!handle) continue;
    if (ref) handle.ref();
    else handle.unref();
  }
}

interface Refable {
  ref(): void;
  unref(): void;
}

function request(bytes: Uint8Array, now: number): Promise<ParserOutcome> {
  return new Promise((resolve) => {
    const p = parser ?? start();
    parser = p;
    clearTimeout(p.idle);
    p.stderr = '';
    p.waiting = resolve;
    setRef(p, true);
    const header = Buffer.alloc(12);
    header.writeUInt32BE(bytes.length, 0);
    header.writeDoubleBE(now, 4);
    p.child.stdin?.write(header);
    p.child.stdin?.write(bytes);
  });
}
