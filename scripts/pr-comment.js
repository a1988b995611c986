#!/usr/bin/env node
// Keeps ONE comment on the pull request with role-sync's markdown (action.yml, `comment: true`).
// The comment is found again by a hidden marker on its first line and by its author, and edited in
// place on every run. It never fails the job: where it cannot comment (not a pull request, a fork's
// read-only token, no pull-requests: write) it says why as a warning, and the job summary has the
// report anyway.
//
// Environment: ROLE_SYNC_COMMENT_FILE (the markdown), GITHUB_TOKEN, and what the runner sets:
// GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_SERVER_URL, GITHUB_RUN_ID.
import { readFile } from 'node:fs/promises';

export const MARKER = '<!-- role-sync-plan -->';
// GitHub refuses comment bodies over 65,536 characters; the rest is room for the note.
export const COMMENT_LIMIT = 65_000;
const PAGE = 100;

const env = process.env;

function notice(level, message) {
  process.stdout.write(`::${level}::${message}\n`);
}

/** The marker first, and at most COMMENT_LIMIT characters, cut at a line end with a note saying so. */
export function commentBody(markdown, runUrl) {
  const body = markdown.startsWith(MARKER) ? markdown : `${MARKER}\n${markdown}`;
  if (body.length <= COMMENT_LIMIT) return body;
  const note = `\n\n_Cut to fit a comment: the whole report is in the job summary${runUrl ? ` of ${runUrl}` : ''}._\n`;
  const room = COMMENT_LIMIT - note.length;
  const cut = body.lastIndexOf('\n', room);
  return body.slice(0, cut > 0 ? cut : room) + note;
}

async function github(method, path, body) {
  const base = (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, '');
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${env.GITHUB_TOKEN ?? ''}`,
      'x-github-api-version': '2022-11-28',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const data = res.status === 204 ? undefined : await res.json().catch(() => undefined);
  return { status: res.status, ok: res.ok, data };
}

/** Whose comments count as ours: the token's user, or any bot when the token cannot say (GITHUB_TOKEN, apps). */
async function isOurs() {
  const me = await github('GET', '/user');
  const login = me.ok && typeof me.data?.login === 'string' ? me.data.login : undefined;
  return (comment) => (login ? comment.user?.login === login : comment.user?.type === 'Bot');
}

async function findComment(repo, number, ours) {
  for (let page = 1; ; page++) {
    const res = await github('GET', `/repos/${repo}/issues/${number}/comments?per_page=${PAGE}&page=${page}`);
    if (!res.ok || !Array.isArray(res.data)) throw new Error(`listing the comments: HTTP ${res.status}`);
    const found = res.data.find((c) => typeof c.body === 'string' && c.body.startsWith(MARKER) && ours(c));
    if (found) return found;
    if (res.data.length < PAGE) return undefined;
  }
}

async function pullRequestNumber() {
  if (!env.GITHUB_EVENT_PATH) return undefined;
  const event = JSON.parse(await readFile(env.GITHUB_EVENT_PATH, 'utf8'));
  const n = event?.pull_request?.number;
  return Number.isInteger(n) ? n : undefined;
}

async function main() {
  const file = env.ROLE_SYNC_COMMENT_FILE;
  const markdown = file ? await readFile(file, 'utf8').catch(() => undefined) : undefined;
  if (!markdown)
    return notice('warning', `role-sync: no report to comment (${file || 'ROLE_SYNC_COMMENT_FILE unset'})`);
  const number = await pullRequestNumber();
  if (number === undefined) return notice('notice', 'role-sync: not a pull request event, so no comment');
  const repo = env.GITHUB_REPOSITORY;
  if (!repo || !env.GITHUB_TOKEN) return notice('warning', 'role-sync: GITHUB_REPOSITORY or the token is missing');
  const runUrl =
    env.GITHUB_SERVER_URL && env.GITHUB_RUN_ID
      ? `${env.GITHUB_SERVER_URL}/${repo}/actions/runs/${env.GITHUB_RUN_ID}`
      : '';
  const body = commentBody(markdown, runUrl);

  const previous = await findComment(repo, number, await isOurs());
  const res = previous
    ? await github('PATCH', `/repos/${repo}/issues/comments/${previous.id}`, { body })
    : await github('POST', `/repos/${repo}/issues/${number}/comments`, { body });
  if (!res.ok) {
    const why = res.status === 403 || res.status === 404 ? ' (a fork pull request, or no pull-requests: write)' : '';
    return notice('warning', `role-sync: cannot comment on #${number}: HTTP ${res.status}${why}; see the job summary`);
  }
  process.stdout.write(
    `role-sync: ${previous ? 'updated' : 'posted'} the comment on #${number}: ${res.data?.html_url ?? ''}\n`,
  );
}

main().catch((err) =>
  notice('warning', `role-sync: commenting failed: ${err instanceof Error ? err.message : String(err)}`),
);
