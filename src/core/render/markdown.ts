import type { Report } from '../report.js';

export function renderMarkdown(report: Report, ..._rest: unknown[]): string {
  return JSON.stringify(report);
}
