import type { Report } from '../report.js';

/**
 * The report object as is, 2-space indented; docs/report-schema.md documents every field.
 * `reportVersion` is written first so a reader can check it before anything else.
 */
export function renderJson(report: Report): string {
  const { reportVersion, ...rest } = report;
  return `${JSON.stringify({ reportVersion, ...rest }, null, 2)}\n`;
}
