// The API sends USD as JSON numbers with at most 6 decimals (integer micro-dollars on the server).
// Work in integer micro-dollars here too, so sums are exact and the cents shown equal the API's.

export function micros(usd) {
  return Math.round(Number(usd) * 1e6);
}

/** Micro-dollars as dollars and cents, rounded half away from zero like the server's decimal rounding. */
export function formatMicros(m) {
  const cents = Math.floor((Math.abs(m) + 5000) / 10000);
  const sign = m < 0 && cents > 0 ? '-' : '';
  const dollars = Math.floor(cents / 100).toLocaleString('en-US');
  return `${sign}$${dollars}.${String(cents % 100).padStart(2, '0')}`;
}

export function formatUsd(usd) {
  return formatMicros(micros(usd));
}

/** The exact amount, six decimals, for tooltips and data attributes. */
export function exactUsd(usd) {
  const m = micros(usd);
  const a = Math.abs(m);
  return `${m < 0 ? '-' : ''}${Math.floor(a / 1e6)}.${String(a % 1e6).padStart(6, '0')}`;
}
