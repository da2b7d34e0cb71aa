// The operator API as the dashboard calls it: same origin, the pasted bearer token, errors as ApiError.

export class ApiError extends Error {
  constructor(kind, status, code, message) {
    super(message);
    this.kind = kind; // unauthorized | forbidden | unavailable | unreachable | request
    this.status = status;
    this.code = code;
  }
}

export async function call(token, path, method = 'GET') {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError('unreachable', 0, 'unreachable', 'The Keybrake API cannot be reached: is the app running?');
  }

  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // A proxy or gateway page instead of the API's JSON: reported by status below.
  }

  if (!response.ok) {
    const code = body?.error?.code ?? `http_${response.status}`;
    const message = body?.error?.message ?? (response.statusText || 'The API answered with an error.');
    const kind = response.status === 401 ? 'unauthorized'
      : response.status === 403 ? 'forbidden'
      : response.status >= 500 ? 'unavailable'
      : 'request';
    throw new ApiError(kind, response.status, code, message);
  }

  return body;
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      q.set(name, String(value));
    }
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Runs tasks with at most `width` in flight, keeping their order in the results. */
export async function limited(items, width, task) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}
