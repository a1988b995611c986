/**
 * The endpoints role-sync uses, as route templates (what logs and errors name) and as filled-in
 * paths (what goes on the wire). Ids are opaque strings (docs/parchment-api.md, "Identifiers"), so every one is
 * percent-encoded.
 */
import type { OrgId, UserId } from '../core/domain.js';

export const ROUTES = {
  token: '/v1/token',
  users: '/v1/organizations/{organization_id}/users',
  user: '/v1/organizations/{organization_id}/users/{user_id}',
  roles: '/v1/organizations/{organization_id}/users/{user_id}/roles',
  disable: '/v1/organizations/{organization_id}/users/{user_id}/disable',
  enable: '/v1/organizations/{organization_id}/users/{user_id}/enable',
} as const;

export type Route = (typeof ROUTES)[keyof typeof ROUTES];

const enc = encodeURIComponent;

export const paths = {
  users: (org: OrgId): string => `/v1/organizations/${enc(org)}/users`,
  user: (org: OrgId, user: UserId): string => `/v1/organizations/${enc(org)}/users/${enc(user)}`,
  roles: (org: OrgId, user: UserId): string => `/v1/organizations/${enc(org)}/users/${enc(user)}/roles`,
  disable: (org: OrgId, user: UserId): string => `/v1/organizations/${enc(org)}/users/${enc(user)}/disable`,
  enable: (org: OrgId, user: UserId): string => `/v1/organizations/${enc(org)}/users/${enc(user)}/enable`,
};
