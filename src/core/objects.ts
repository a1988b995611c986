/**
 * The object without its undefined-valued keys. Optional fields then stay absent rather than
 * present-but-undefined, so the JSON report, logs and deep equality all see one shape. Key order
 * is kept (it is the JSON report's field order).
 */
export function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) if (value !== undefined) out[key] = value;
  return out as T;
}
