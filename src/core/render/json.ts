import type { Report } from '../report.js';

export function renderJson(report: Report, ..._rest: unknown[]): string {
  return JSON.stringify(report);
}
