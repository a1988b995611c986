import type { Report } from '../report.js';

export function renderText(report: Report, ..._rest: unknown[]): string {
  return JSON.stringify(report);
}
