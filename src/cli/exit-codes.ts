/** Terraform's convention: 2 means changes are pending (only under `--detailed-exitcode`). */
export const ExitCode = {
  ok: 0,
  error: 1,
  changesPending: 2,
  refusedByGuard: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
