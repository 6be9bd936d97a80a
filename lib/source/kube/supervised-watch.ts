/**
 * client-node's Watch with what supervision needs: it asks for bookmarks and a server-side timeout, reports every
 * line (bookmarks included) as activity, and exposes the open request so a watchdog can cut a stalled stream.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';

type Callback = Parameters<Watch['watch']>[2];
type Done = Parameters<Watch['watch']>[3];

export class SupervisedWatch extends Watch {
  private current: AbortController | undefined;
  private closed = false;
  private readonly onActivity: () => void;
  private readonly timeoutSeconds: () => number;

  constructor(config: KubeConfig, options: { onActivity: () => void; timeoutSeconds: () => number; connectTimeoutMs: number }) {
    super(config);
    this.onActivity = options.onActivity;
    this.timeoutSeconds = options.timeoutSeconds;
    // Watch keeps this private; it bounds connecting and, afterwards, inactivity.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = options.connectTimeoutMs;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: Callback,
    done: Done,
  ): Promise<AbortController> {
    if (this.closed) {
      // ListWatch opens a watch after its reconnect delay without re-checking stop(); open nothing.
      const dead = new AbortController();
      dead.abort();
      return dead;
    }
    const params = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.timeoutSeconds() };
    const controller = await super.watch(
      path,
      params,
      (phase, object, raw) => {
        this.onActivity();
        callback(phase, object, raw);
      },
      (err) => {
        this.current = undefined;
        done(err);
      },
    );
    if (!controller.signal.aborted) this.current = controller;
    return controller;
  }

  /** Cut the open watch as a timeout, so ListWatch re-watches from its last resourceVersion. */
  abortCurrent(): boolean {
    const c = this.current;
    if (!c) return false;
    this.current = undefined;
    c.abort(new DOMException('watch went stale', 'TimeoutError'));
    return true;
  }

  close(): void {
    this.closed = true;
    this.current?.abort();
    this.current = undefined;
  }
}
