import * as z from 'zod';
import { normalizeUserId } from './seed.js';
import {
  DEFAULT_FAULTS,
  FAULT_KINDS,
  LIST_SHAPES,
  type ConfigPatch,
  type SimConfig,
  type SimOptions,
} from './types.js';

const rateLimitSchema = z.strictObject({
  perSecond: z.number().positive(),
  burst: z.number().int().min(1).optional(),
});

/** The keys `configure()` and `PATCH /_sim/config` accept; `rateLimit: null` switches limiting off. */
export const configPatchSchema = z.strictObject({
  listShape: z.enum(LIST_SHAPES).optional(),
  pageSize: z.number().int().min(1).optional(),
  rateLimit: rateLimitSchema.nullable().optional(),
  faultRate: z.number().min(0).max(1).optional(),
  faults: z.array(z.enum(FAULT_KINDS)).min(1).optional(),
  latencyMs: z.number().min(0).optional(),
  tokenTtlSeconds: z.number().int().min(0).optional(),
  retryAfter: z.union([z.enum(['seconds', 'none', 'past-date']), z.number().int().min(0)]).optional(),
  failUser: z.record(z.string(), z.number().int().min(400).max(599)).optional(),
  wrongUser: z.record(z.string().min(1), z.string().min(1)).optional(),
  overlapPages: z.boolean().optional(),
  echoSecrets: z.boolean().optional(),
  hugeListBody: z
    .union([z.number().int().min(1), z.literal('endless')])
    .nullable()
    .optional(),
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseConfigPatch(input: unknown): ConfigPatch {
  const parsed = configPatchSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid simulator configuration: ${issues.join('; ')}`);
  }
  const { rateLimit, hugeListBody, ...rest } = parsed.data;
  // `null` and `undefined` both mean "off"; only an absent key leaves the setting alone.
  return {
    ...rest,
    ...('rateLimit' in parsed.data ? { rateLimit: rateLimit ?? undefined } : {}),
    ...('hugeListBody' in parsed.data ? { hugeListBody: hugeListBody ?? undefined } : {}),
  };
}

export function initialConfig(opts: SimOptions): SimConfig {
  const base: SimConfig = {
    listShape: 'oas',
    pageSize: 100,
    rateLimit: undefined,
    faultRate: 0,
    faults: [...DEFAULT_FAULTS],
    latencyMs: 0,
    tokenTtlSeconds: 3600,
    retryAfter: 'seconds',
    failUser: {},
    wrongUser: {},
    overlapPages: false,
    echoSecrets: false,
    hugeListBody: undefined,
  };
  // Everything but the start-up options is a run-time knob, validated as a patch would be.
  const { host: _host, port: _port, seed: _seed, random: _random, logger: _logger, ...knobs } = opts;
  return applyPatch(base, parseConfigPatch(dropUndefined(knobs)));
}

export function applyPatch(config: SimConfig, patch: ConfigPatch): SimConfig {
  const next: SimConfig = {
    ...config,
    faults: [...config.faults],
    failUser: { ...config.failUser },
    wrongUser: { ...config.wrongUser },
  };
  if (patch.listShape !== undefined) next.listShape = patch.listShape;
  if (patch.pageSize !== undefined) next.pageSize = patch.pageSize;
  if ('rateLimit' in patch) next.rateLimit = patch.rateLimit ? { ...patch.rateLimit } : undefined;
  if (patch.faultRate !== undefined) next.faultRate = patch.faultRate;
  if (patch.faults !== undefined) next.faults = [...patch.faults];
  if (patch.latencyMs !== undefined) next.latencyMs = patch.latencyMs;
  if (patch.tokenTtlSeconds !== undefined) next.tokenTtlSeconds = patch.tokenTtlSeconds;
  if (patch.echoSecrets !== undefined) next.echoSecrets = patch.echoSecrets;
  if ('hugeListBody' in patch) next.hugeListBody = patch.hugeListBody;
  if (patch.retryAfter !== undefined) next.retryAfter = patch.retryAfter;
  if (patch.failUser !== undefined) {
    next.failUser = Object.fromEntries(
      Object.entries(patch.failUser).map(([id, status]) => [normalizeUserId(id), status]),
    );
  }
  if (patch.wrongUser !== undefined) {
    next.wrongUser = Object.fromEntries(
      Object.entries(patch.wrongUser).map(([asked, other]) => [normalizeUserId(asked), normalizeUserId(other)]),
    );
  }
  if (patch.overlapPages !== undefined) next.overlapPages = patch.overlapPages;
  return next;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
