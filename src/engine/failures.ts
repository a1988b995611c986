import type { FailureDetail, FailureReason } from '../core/report.js';
import { defined } from '../core/objects.js';
import {
  apiFailureSummary,
  AuthFailedError,
  ParchmentApiError,
  ParchmentNetworkError,
  ParchmentResponseError,
  ReadOnlyViolation,
  WrongUserAnswerError,
} from '../parchment/errors.js';
import { messageOf } from '../core/wording.js';

/**
 * Turn whatever a call threw into the report's failure value, keeping status, code, detail and
 * requestId as fields: the message never repeats them, so each appears once in every rendering.
 * Nor does it name the organization or the user: every rendering shows a failure under both.
 * `context` says what the request was for when the request alone does not, and names the
 * organization where the message is shown on its own (export's).
 */
export function failureOf(err: unknown, fallback: FailureReason, context?: string): FailureDetail {
  const say = (prose: string): string => (context === undefined ? prose : `${context}: ${prose}`);
  if (err instanceof AuthFailedError) {
    return { reason: 'auth', message: say(apiFailureSummary(err)), status: err.status, ...apiFields(err) };
  }
  if (err instanceof ParchmentApiError) {
    return {
      reason: fallback === 'observe' ? 'observe' : 'rejected',
      message: say(apiFailureSummary(err)),
      status: err.status,
      ...apiFields(err),
    };
  }
  if (err instanceof ParchmentResponseError) {
    return defined({ reason: fallback, message: say(err.summary), status: err.status, requestId: err.requestId });
  }
  if (err instanceof WrongUserAnswerError) {
    return defined({ reason: 'wrong-user', message: say(err.summary), status: err.status, requestId: err.requestId });
  }
  if (err instanceof ReadOnlyViolation) return { reason: fallback, message: say(err.message) };
  if (err instanceof ParchmentNetworkError) {
    return { reason: fallback === 'observe' ? 'observe' : 'network', message: say(err.summary) };
  }
  return { reason: fallback, message: say(messageOf(err)) };
}

function apiFields(err: ParchmentApiError): Pick<FailureDetail, 'code' | 'detail' | 'requestId'> {
  return defined({ code: err.code, detail: err.detail, requestId: err.requestId });
}
