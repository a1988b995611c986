/** Terraform's convention (PRODUCT.md §2). */
export const ExitCode = {
  ok: 0,
  error: 1,
  changesPending: 2,
  refusedByGuard: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
