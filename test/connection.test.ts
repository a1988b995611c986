/** The wiring of settings → clients → reconcilers, against the real simulator over loopback. */
import { afterEach, describe, expect, it } from 'vitest';
import type { UserId } from '../src/core/domain.js';
import type { RunMode } from '../src/core/run-mode.js';
import { connect, type Connection } from '../src/engine/connection.js';
import { ReadOnlyViolation } from '../src/parchment/errors.js';
import { unscheduled } from '../src/queue/contract.js';
import { WriteCoordinator } from '../src/queue/write-coordinator.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/index.js';
import { CAMERON, COLLINS, captureLog, collinsSettings } from './helpers/client-fixtures.js';

/** Enabled in the demo seed, with roles to write. */
const NGUYEN = '64c290b3-09df-46c2-833b-b3ad3054109b' as UserId;

let sim: RunningSimulator | undefined;
let connection: Connection | undefined;

afterEach(async () => {
  connection?.close();
  connection = undefined;
  await sim?.close();
  sim = undefined;
});

async function start(): Promise<{ sim: RunningSimulator; connection: Connection }> {
  sim = await startSimulator();
  connection = connect(await collinsSettings(sim.baseUrl), {
    logger: captureLog().logger,
    scheduler: unscheduled,
    coordinator: new WriteCoordinator(),
  });
  return { sim, connection };
}

const writesOf = (s: RunningSimulator) => s.requests().filter((r) => r.method === 'PUT');

describe('connect', () => {
  it.each<RunMode>(['plan', 'dry-run'])('gives %s a client whose HTTP layer refuses every write', async (mode) => {
    const { sim, connection } = await start();
    const api = connection.api(mode);
    await expect(api.replaceRoles(COLLINS, CAMERON, ['provider'])).rejects.toBeInstanceOf(ReadOnlyViolation);
    await expect(api.disableUser(COLLINS, NGUYEN)).rejects.toBeInstanceOf(ReadOnlyViolation);
    await expect(api.enableUser(COLLINS, NGUYEN)).rejects.toBeInstanceOf(ReadOnlyViolation);
    expect((await api.listUsers(COLLINS)).length).toBeGreaterThan(0);
    expect(writesOf(sim)).toEqual([]);
    expect(connection.reconciler(mode).mode).toBe(mode);
  });

  it('gives apply a client that writes, sharing one token with the read-only one', async () => {
    const { sim, connection } = await start();
    await connection.api('plan').listUsers(COLLINS);
    const written = await connection.api('apply').replaceRoles(COLLINS, NGUYEN, ['admin', 'provider']);
    expect(written.roles).toEqual(['admin', 'provider']);
    expect(sim.requests().filter((r) => r.route === 'POST /v1/token')).toHaveLength(1);
  });

  it('disables and enables a user with idempotent PUTs that name the user', async () => {
    const { sim, connection } = await start();
    const api = connection.api('apply');
    expect(await api.disableUser(COLLINS, NGUYEN)).toMatchObject({ userId: NGUYEN });
    expect(await api.disableUser(COLLINS, NGUYEN)).toMatchObject({ userId: NGUYEN });
    expect((await api.getUser(COLLINS, NGUYEN)).roles).toEqual(['member']);
    expect(await api.enableUser(COLLINS, NGUYEN)).toMatchObject({ userId: NGUYEN });
    expect(await api.enableUser(COLLINS, NGUYEN)).toMatchObject({ userId: NGUYEN });
    expect(writesOf(sim).map((r) => `${r.route} ${r.status}`)).toEqual([
      'PUT /v1/organizations/{organization_id}/users/{user_id}/disable 200',
      'PUT /v1/organizations/{organization_id}/users/{user_id}/disable 200',
      'PUT /v1/organizations/{organization_id}/users/{user_id}/enable 200',
      'PUT /v1/organizations/{organization_id}/users/{user_id}/enable 200',
    ]);
  });
});
