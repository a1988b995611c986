import { ConfigError, parseConfigPatch } from './config.js';
import type { RunningSimulator, SimConfig, SimSeed } from './types.js';

/** What the `/_sim/` endpoints drive; the running simulator provides it. */
export interface SimControl extends Pick<
  RunningSimulator,
  'requests' | 'clearRequests' | 'setRoles' | 'revokeTokens' | 'configure' | 'user' | 'reset'
> {
  currentConfig(): SimConfig;
  currentState(): SimSeed;
}

export interface ControlReply {
  status: number;
  body?: unknown;
}

const USER_ROLES = /^\/_sim\/organizations\/([^/]+)\/users\/([^/]+)\/roles$/;

function decode(seg: string): string | undefined {
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined;
  }
}

/**
 * The test and demo back door (README.md, "The simulator"): no auth, plain JSON (not the Parchment envelope),
 * never rate limited, faulted, delayed or recorded.
 */
export function handleControl(
  sim: SimControl,
  method: string,
  path: string,
  body: unknown,
  bodyInvalid: boolean,
): ControlReply {
  if (bodyInvalid) return { status: 400, body: { error: 'request body must be JSON' } };
  const route = `${method} ${path}`;
  switch (route) {
    case 'GET /_sim/requests':
      return { status: 200, body: sim.requests() };
    case 'DELETE /_sim/requests':
      sim.clearRequests();
      return { status: 204 };
    case 'POST /_sim/revoke-tokens':
      sim.revokeTokens();
      return { status: 204 };
    case 'POST /_sim/reset':
      sim.reset();
      return { status: 204 };
    case 'GET /_sim/state': {
      const state = sim.currentState();
      // The state view leaves out credentials: it is for looking at users, not for minting tokens.
      const organizations = state.organizations.map(({ secret: _secret, ...org }) => org);
      return { status: 200, body: { config: sim.currentConfig(), organizations } };
    }
    case 'PATCH /_sim/config':
      try {
        sim.configure(parseConfigPatch(body ?? {}));
        return { status: 200, body: sim.currentConfig() };
      } catch (err) {
        if (err instanceof ConfigError) return { status: 400, body: { error: err.message } };
        throw err;
      }
  }
  const m = method === 'PUT' ? USER_ROLES.exec(path) : null;
  if (m) {
    const orgId = decode(m[1] as string);
    const userId = decode(m[2] as string);
    const roles = (body as { access_roles?: unknown } | undefined)?.access_roles;
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
      return { status: 400, body: { error: 'body must be {"access_roles": [string, ...]}' } };
    }
    if (orgId === undefined || userId === undefined || !sim.user(orgId, userId)) {
      return { status: 404, body: { error: `no user ${userId ?? m[2]} in organization ${orgId ?? m[1]}` } };
    }
    sim.setRoles(orgId, userId, roles);
    return { status: 200, body: sim.user(orgId, userId) };
  }
  return { status: 404, body: { error: `no simulator endpoint ${route}` } };
}
