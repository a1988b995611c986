import type { Report } from '../report.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import { renderText, type RenderOptions } from './text.js';

export type { RenderOptions } from './text.js';
export type ReportFormat = 'text' | 'json' | 'markdown';

export function renderReport(report: Report, format: ReportFormat, opts: RenderOptions): string {
  switch (format) {
    case 'text':
      return renderText(report, opts);
    case 'json':
      return renderJson(report);
    case 'markdown':
      return renderMarkdown(report);
  }
}
