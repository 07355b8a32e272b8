/**
 * The memory all request bodies being buffered may hold together (--body-buffer-total-bytes), shared
 * by the threads that buffer them: the main thread (the fetch path) and the front door's. Each thread
 * counts in a slot of its own in shared memory, so a front door thread that dies and is started again
 * gives back what it held by starting its slot at zero; a reservation looks at every slot. Two
 * threads reserving at the same moment may pass the budget by one reservation each: it is a bound on
 * memory, not an account.
 */
export class BodyBudget {
  private readonly slots: Int32Array;

  constructor(
    readonly total: number,
    /** Slot `slot` is this thread's. */
    readonly memory: SharedArrayBuffer = BodyBudget.memoryFor(),
    private readonly slot: BudgetSlot = "main",
  ) {
    this.slots = new Int32Array(memory);
  }

  static memoryFor(): SharedArrayBuffer {
    return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * SLOTS.length);
  }

  /** Bytes held in memory now, by every thread. */
  get held(): number {
    let sum = 0;
    for (let i = 0; i < this.slots.length; i++) sum += Atomics.load(this.slots, i);
    return sum;
  }

  /** Takes `bytes` from the budget, or nothing and false when they do not fit. */
  reserve(bytes: number): boolean {
    if (bytes === 0) return true;
    if (this.held + bytes > this.total) return false;
    Atomics.add(this.slots, SLOTS.indexOf(this.slot), bytes);
    return true;
  }

  release(bytes: number): void {
    if (bytes > 0) Atomics.sub(this.slots, SLOTS.indexOf(this.slot), bytes);
  }

  /** This thread starts afresh: whatever its slot held belonged to a thread that is gone. */
  resetSlot(slot: BudgetSlot): void {
    Atomics.store(this.slots, SLOTS.indexOf(slot), 0);
  }
}

const SLOTS = ["main", "front"] as const;
export type BudgetSlot = (typeof SLOTS)[number];
