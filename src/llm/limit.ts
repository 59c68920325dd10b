/** A counting semaphore: at most `max` holders at once, the rest wait in arrival order. */
export class Semaphore {
  readonly max: number;
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(max: number) {
    this.max = Math.max(1, Math.floor(max));
  }

  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.held >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.held++;
    try {
      return await f();
    } finally {
      // Hand the slot straight to the next waiter (held stays the same), else free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    }
  }
}
