/**
 * Polling until something holds: the rehearsal (npm run ensaio) and the tests wait on a cluster this way.
 * Plain module.
 */

/**
 * Polls every `intervalMs` (default a second) until `check` returns a value (not undefined), or fails after
 * `seconds` saying what it waited for.
 */
export async function eventually<T>(
  what: string,
  seconds: number,
  check: () => T | undefined | Promise<T | undefined>,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not within ${seconds}s: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
