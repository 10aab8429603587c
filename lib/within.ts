/**
 * Rejects after `ms` whatever `work` does (`work` itself goes on). A caller that must not close a
 * connection under a call it stopped waiting for passes `inFlight` to remember the call in until
 * it settles.
 */
export async function within<T>(ms: number, work: Promise<T>, what: string, inFlight?: Set<Promise<unknown>>): Promise<T> {
  if (inFlight) {
    inFlight.add(work);
    void work.then(
      () => inFlight.delete(work),
      () => inFlight.delete(work),
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
