/**
 * Alerts a run raised: conditions an operator would be paged for (a SPIRE server unreachable, a workload's SVID
 * expired), observed by a watcher while the run goes, never declared by the fault that caused them. Each alert
 * fires when its condition is first seen and resolves when it is first seen gone; both times are on the run's
 * clock (ms since `startedAt`). Written to result.json (`alerts`) and drawn in the report.
 */
export interface Alert {
  /** The rule, e.g. `svid-expired`. */
  name: string;
  severity: "warning" | "critical";
  /** What it is about: `spire-server syd`, `ato-tax-service in syd` ... */
  subject: string;
  message: string;
  firedAtMs: number;
  /** null while the condition still holds (also at the end of the run). */
  resolvedAtMs: number | null;
}

/** A condition a watcher sees now; `key` identifies it across samples (rule and subject). */
export interface Condition {
  name: string;
  severity: Alert["severity"];
  subject: string;
  message: string;
}

const keyOf = (c: Pick<Condition, "name" | "subject">): string => `${c.name}\u0000${c.subject}`;

/** Turns samples of conditions into alerts: one alert per stretch of time a condition held. */
export class AlertBook {
  readonly #alerts: Alert[] = [];
  readonly #open = new Map<string, Alert>();

  /** Everything that holds at `nowMs`: new conditions fire, open alerts whose condition is gone resolve. */
  observe(conditions: Condition[], nowMs: number): Alert[] {
    const fired: Alert[] = [];
    const seen = new Set<string>();
    for (const c of conditions) {
      const k = keyOf(c);
      seen.add(k);
      if (this.#open.has(k)) continue;
      const a: Alert = { ...c, firedAtMs: Math.round(nowMs), resolvedAtMs: null };
      this.#open.set(k, a);
      this.#alerts.push(a);
      fired.push(a);
    }
    for (const [k, a] of this.#open)
      if (!seen.has(k)) {
        a.resolvedAtMs = Math.round(nowMs);
        this.#open.delete(k);
      }
    return fired;
  }

  /** Every alert so far, in firing order (copies). */
  list(): Alert[] {
    return this.#alerts.map((a) => ({ ...a }));
  }
}

/** The columns every report draws an alert in. */
export const ALERT_COLUMNS = ["severity", "alert", "subject", "fired (s)", "resolved (s)", "message"];

export const alertRow = (a: Alert): string[] => [a.severity, a.name, a.subject, (a.firedAtMs / 1000).toFixed(1), a.resolvedAtMs === null ? "still firing" : (a.resolvedAtMs / 1000).toFixed(1), a.message];
