import type { AuditEvent } from "../core/types.js";

/** The subscribers of `Store.onAuditCommitted`. A throwing listener is isolated: a write never fails for it. */
export class AuditListeners {
  private readonly set = new Set<(events: readonly AuditEvent[]) => void>();

  add(listener: (events: readonly AuditEvent[]) => void): () => void {
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }

  emit(events: readonly AuditEvent[]): void {
    if (events.length === 0) return;
    for (const l of this.set) {
      try {
        l(events);
      } catch {
        // A notification is best effort; the events are committed whatever a listener does.
      }
    }
  }
}
