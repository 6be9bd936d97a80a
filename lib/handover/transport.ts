/**
 * The wire under the writer lease: one name per node, held by whichever process listens on it. A holder is asked
 * to let go over the same name. The real transport is a Linux abstract Unix socket (abstract-socket.ts); the fake
 * (fake-transport.ts) keeps the name in memory.
 */

/** A name being held. */
export interface LeaseBinding {
  /** Stop holding the name (idempotent). */
  release(): Promise<void>;
}

export interface LeaseTransport {
  /**
   * Try to hold the name. Resolves the binding, or undefined when another process holds it. `onHandoverRequest`
   * runs when another process asks for the name; the requester is answered once it has settled and the name is
   * free (the handler must release the binding).
   */
  bind(onHandoverRequest: () => Promise<void>): Promise<LeaseBinding | undefined>;
  /**
   * Ask the holder to let go. Resolves 'released' once it has (or when nobody holds the name any more),
   * 'timeout' when it did not answer within timeoutMs.
   */
  requestHandover(timeoutMs: number): Promise<'released' | 'timeout'>;
  /** Whether some process holds the name right now (asks nothing of it). */
  isHeld(): Promise<boolean>;
}
