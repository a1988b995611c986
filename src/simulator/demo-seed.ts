import type { SimSeed } from './types.js';

/**
 * The demo world: the organizations and users of roles.example.yaml, with live roles chosen so a
 * first `role-sync plan` shows grants, revocations, an unchanged user, a protected owner, a disabled
 * user, unmanaged users, a receptionist who has left (still active here, `disabled` in the file) and a
 * locum whose provider grant the file limits with `until`. Ids are fixed so docs, demos and tests can name them.
 */

const COLLINS = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const FITZROY = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';

export const DEMO_PARTNER = { partnerId: 'role-sync-demo', partnerSecret: 'sim-partner-secret' } as const;

/** The user each demo organization's tokens are minted for (`x-user-id`, `PARCHMENT_USER_ID`). */
export const DEMO_ACTING_USER: Record<string, string> = {
  [COLLINS]: 'a7748dfd-ceb2-4b17-8380-425c304f5ae7',
  [FITZROY]: 'c0ffee00-1111-4222-8333-444455556666',
};

export function demoSeed(): SimSeed {
  return {
    partners: [{ ...DEMO_PARTNER }],
    organizations: [
      {
        id: COLLINS,
        name: 'Collins Street Clinic',
        secret: 'sim-org-secret-collins',
        users: [
          {
            id: 'a7748dfd-ceb2-4b17-8380-425c304f5ae7',
            email: 'dr.ahmed@collins.example',
            fullName: 'Dr Sara Ahmed',
            roles: ['admin', 'provider'],
          },
          {
            id: '3266a9fd-c21d-4600-93b4-d760dce49b05',
            email: 'dr.cameron@collins.example',
            fullName: 'Dr Darlene Cameron',
            roles: ['admin', 'provider'],
          },
          {
            id: '64c290b3-09df-46c2-833b-b3ad3054109b',
            email: 'dr.nguyen@collins.example',
            fullName: 'Dr Minh Nguyen',
            roles: ['provider'],
          },
          {
            id: 'fd288ccc-fb13-4be5-8f5c-66145f401585',
            email: 'practice.manager@collins.example',
            fullName: 'Priya Raman',
            roles: ['owner', 'admin'],
          },
          {
            id: 'b9625b26-85bd-404e-8dc6-21aee34fc155',
            email: 'front.desk@collins.example',
            fullName: 'Jess Walker',
            roles: ['receptionist'],
          },
          {
            id: 'b9522644-cd08-4b9c-a3d9-37e1c61f93b5',
            email: 'second.desk@collins.example',
            fullName: 'Tom Baxter',
            roles: ['receptionist', 'rx_reader'],
          },
          {
            id: 'c30ab136-4916-45b2-bbac-a97ecf65726e',
            email: 'weekend.desk@collins.example',
            fullName: 'Ellie Moore',
            roles: ['member'],
            disabled: true,
          },
          {
            id: 'dd2e0ec1-994c-41da-ba44-de403fc4e041',
            email: 'nurse.patel@collins.example',
            fullName: 'Anita Patel',
            roles: ['receptionist'],
          },
          {
            id: '9e3c5a1b-7d24-4f8e-b6a0-2c1d3e4f5a6b',
            email: 'left.in.march@collins.example',
            fullName: 'Kate Doyle',
            roles: ['receptionist', 'rx_reader'],
          },
          {
            id: 'f109c4cd-8ff7-4adf-89bf-8f7d206e15c2',
            email: 'locum.smith@collins.example',
            fullName: 'Dr John Smith',
            roles: ['provider'],
          },
          {
            id: 'b17881c2-1e5c-4e8d-8387-e464e3b58b13',
            email: 'billing@collins.example',
            fullName: 'Billing Office',
            roles: ['admin'],
          },
        ],
      },
      {
        id: FITZROY,
        name: 'Fitzroy Telehealth',
        secret: 'sim-org-secret-fitzroy',
        users: [
          {
            id: 'c0ffee00-1111-4222-8333-444455556666',
            email: 'it.admin@fitzroy.example',
            fullName: 'Sam Ortiz',
            roles: ['admin'],
          },
          {
            id: '5c494250-5bab-4d21-9ce5-7e8d5bbc85f0',
            email: 'dr.okafor@fitzroy.example',
            fullName: 'Dr Chidi Okafor',
            roles: ['provider'],
          },
          {
            id: '70c29e39-061e-400a-97ce-d9e8455c2d31',
            email: 'dr.lindqvist@fitzroy.example',
            fullName: 'Dr Astrid Lindqvist',
            roles: ['provider'],
          },
          {
            id: '4d4f6c08-011f-4bdb-a201-f269c6b05509',
            email: 'reception@fitzroy.example',
            fullName: 'Mia Chen',
            roles: ['receptionist', 'rx_reader'],
          },
          {
            id: 'bc4ebe96-7292-4f10-b8e5-20ff8ff568c1',
            email: 'casual.gp@fitzroy.example',
            fullName: 'Dr Ravi Kumar',
            roles: ['provider'],
          },
        ],
      },
    ],
  };
}
