/**
 * The page's asynchronous work: tracked, so that a test (or anyone at the console) can wait until the
 * page is quiet, and coalesced where a control streams values (a slider, a pointer), so that only the
 * newest value is worked on once the one in hand is done.
 *
 * @module
 */

/** Work started and not yet settled. */
const pending = new Set<Promise<unknown>>();

/** Tracks `work` until it settles, and returns it. */
export function track<T>(work: Promise<T>): Promise<T> {
  pending.add(work);
  work.then(() => pending.delete(work), () => pending.delete(work));
  return work;
}

/** Resolves once no tracked work is left (work started meanwhile is waited for too). */
export async function idle(): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending]);
}

/** Runs jobs one at a time; a job given while one runs replaces any job still waiting. */
export class Latest {
  #next?: () => Promise<void>;
  #running = false;
  readonly #onError: (error: unknown) => void;

  /** Jobs that throw hand their error to `onError`. */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Runs `job` now, or after the running one (unless a newer job comes first). */
  run(job: () => Promise<void>): void {
    this.#next = job;
    if (!this.#running) track(this.#drain());
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#next) {
      const job = this.#next;
      this.#next = undefined;
      try {
        await job();
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#running = false;
  }
}
