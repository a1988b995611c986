/**
 * A stand-in for the part of GitHub's REST API that scripts/pr-comment.js uses, on 127.0.0.1:
 * `GET /user`, listing an issue's comments (paged), creating and editing a comment. It checks the
 * bearer token and records every request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeComment {
  id: number;
  body: string;
  user: { login: string; type: 'User' | 'Bot' };
}

export interface FakeGitHubOptions {
  readonly token: string;
  /** What `GET /user` answers: a login (a personal token), or 403 as for GITHUB_TOKEN. */
  readonly login?: string;
  /** Whose comments new ones are. */
  readonly author: FakeComment['user'];
  /** Answer writes (POST, PATCH) with this status instead, e.g. 403 for a fork's read-only token. */
  readonly refuseWrites?: number;
}

export interface FakeGitHub {
  readonly url: string;
  readonly comments: Map<number, FakeComment[]>;
  readonly requests: { method: string; path: string; body?: unknown }[];
  close(): Promise<void>;
}

export async function startFakeGitHub(repo: string, opts: FakeGitHubOptions): Promise<FakeGitHub> {
  const comments = new Map<number, FakeComment[]>();
  const requests: FakeGitHub['requests'] = [];
  let nextId = 1000;

  const send = (res: ServerResponse, status: number, body?: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    return text ? JSON.parse(text) : undefined;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, ...(body ? { body } : {}) });
      if (req.headers.authorization !== `Bearer ${opts.token}`) return send(res, 401, { message: 'Bad credentials' });
      if (req.method === 'GET' && url.pathname === '/user') {
        return opts.login ? send(res, 200, { login: opts.login }) : send(res, 403, { message: 'not for this token' });
      }
      const list = new RegExp(`^/repos/${repo}/issues/(\\d+)/comments$`).exec(url.pathname);
      if (list) {
        const n = Number(list[1]);
        if (req.method === 'GET') {
          const perPage = Number(url.searchParams.get('per_page') ?? 30);
          const page = Number(url.searchParams.get('page') ?? 1);
          return send(res, 200, (comments.get(n) ?? []).slice((page - 1) * perPage, page * perPage));
        }
        if (req.method === 'POST') {
          if (opts.refuseWrites) return send(res, opts.refuseWrites, { message: 'Resource not accessible' });
          const c: FakeComment = { id: nextId++, body: (body as { body: string }).body, user: opts.author };
          comments.set(n, [...(comments.get(n) ?? []), c]);
          return send(res, 201, { ...c, html_url: `https://github.example/${repo}/pull/${n}#issuecomment-${c.id}` });
        }
      }
      const edit = new RegExp(`^/repos/${repo}/issues/comments/(\\d+)$`).exec(url.pathname);
      if (edit && req.method === 'PATCH') {
        if (opts.refuseWrites) return send(res, opts.refuseWrites, { message: 'Resource not accessible' });
        const c = [...comments.values()].flat().find((x) => x.id === Number(edit[1]));
        if (!c) return send(res, 404, { message: 'Not Found' });
        if (c.user.login !== opts.author.login) return send(res, 403, { message: 'not your comment' });
        c.body = (body as { body: string }).body;
        return send(res, 200, { ...c, html_url: `https://github.example/${repo}#issuecomment-${c.id}` });
      }
      send(res, 404, { message: 'Not Found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    comments,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
