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
 */
export function failureOf(err: unknown, fallback: FailureReason, context: string): FailureDetail {
  if (err instanceof AuthFailedError) {
    return { reason: 'auth', message: `${context}: ${apiFailureSummary(err)}`, status: err.status, ...apiFields(err) };
  }
  if (err instanceof ParchmentApiError) {
    return {
      reason: fallback === 'observe' ? 'observe' : 'rejected',
      message: `${context}: ${apiFailureSummary(err)}`,
      status: err.status,
      ...apiFields(err),
    };
  }
  if (err instanceof ParchmentResponseError) {
    return defined({
      reason: fallback,
      message: `${context}: ${err.summary}`,
      status: err.status,
      requestId: err.requestId,
    });
  }
  if (err instanceof WrongUserAnswerError) {
    return {
      reason: 'wrong-user',
      message: `${context}: ${err.message}`,
      status: err.status,
      ...(err.requestId !== undefined ? { requestId: err.requestId } : {}),
    };
  }
  if (err instanceof ReadOnlyViolation) {
    return { reason: fallback, message: `${context}: ${err.message}` };
  }
  if (err instanceof ParchmentNetworkError) {
    return { reason: fallback === 'observe' ? 'observe' : 'network', message: `${context}: ${err.message}` };
  }
  return { reason: fallback, message: `${context}: ${messageOf(err)}` };
}

function apiFields(err: ParchmentApiError): Pick<FailureDetail, 'code' | 'detail' | 'requestId'> {
  return defined({ code: err.code, detail: err.detail, requestId: err.requestId });
}
