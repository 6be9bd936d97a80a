/**
 * An in-memory LeaseTransport: a FakeLeaseNamespace stands for one node's abstract socket namespace; every
 * transport made from it competes for the same name. `crash()` frees the name without the holder's consent, as the
 * kernel does when a process dies.
 */
import type { LeaseBinding, LeaseTransport } from './transport.ts';

interface Holder {
  readonly onHandoverRequest: () => Promise<void>;
  readonly binding: LeaseBinding;
}

export class FakeLeaseNamespace {
  holder: Holder | undefined;
  /** When false, a holder never answers a request (a hung process). */
  answering = true;

  transport(): LeaseTransport {
    return {
      bind: (onHandoverRequest) => {
        if (this.holder) return Promise.resolve(undefined);
        const binding: LeaseBinding = {
          release: () => {
            if (this.holder?.binding === binding) this.holder = undefined;
            return Promise.resolve();
          },
        };
        this.holder = { onHandoverRequest, binding };
        return Promise.resolve(binding);
      },
      isHeld: () => Promise.resolve(this.holder !== undefined),
      requestHandover: async (timeoutMs) => {
        const holder = this.holder;
        if (!holder) return 'released';
        if (!this.answering) {
          await new Promise((resolve) => setTimeout(resolve, timeoutMs));
          return 'timeout';
        }
        await holder.onHandoverRequest().catch(() => undefined);
        await holder.binding.release();
        return 'released';
      },
    };
  }

  /** The holder dies: the name is free, nobody was asked. */
  crash(): void {
    this.holder = undefined;
  }
}
