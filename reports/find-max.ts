/**
 * The highest rate the mesh holds: a pure search over recorded step results. Steps go up geometrically from a
 * start rate until one is not held, then bisect between the highest held and the lowest not held until the gap is
 * within the tolerance. Whether a step held is a pure judgement of its figures against the SLO, so the whole search
 * is tested on recorded steps without a mesh.
 */

/** What one step at one open-model rate measured. */
export interface StepFigures {
  rate: number;
  /** Requests intended in the step's measured window. */
  intended: number;
  lost: number;
  /** Clearance p99 of the measured window (ms). */
  p99Ms: number;
  /** Work outstanding (intended and not completed) at the start and at the end of the measured window. */
  backlogStart: number;
  backlogEnd: number;
  /** How long the rate was held, measured (ms). */
  heldMs: number;
  /** The step's warm-up until steady: how long it took, and false when it never settled (then nothing was measured). */
  warmupMs?: number;
  settled?: boolean;
}

export interface StepVerdict {
  held: boolean;
  /** Why not, in words; empty when held. */
  reasons: string[];
}

export interface FindMaxOptions {
  /** The SLO's clearance p99 (ms). */
  p99Ms: number;
  startRate: number;
  /** Factor between rising steps (default 2). */
  factor?: number;
  /** Stop bisecting once (notHeld - held) / held is at most this (default 0.1). */
  tolerance?: number;
  /** Steps at most, rising and bisecting together (default 12). */
  maxSteps?: number;
  /** A rate never to offer (e.g. what the generator can produce). */
  ceiling?: number;
  /**
   * The backlog may grow by this many seconds of the rate over a step and still count as steady (default 1):
   * queues that drain within a second are normal, a backlog that keeps growing is not.
   */
  backlogSeconds?: number;
}

/** Held: nothing lost, clearance p99 within the SLO, and the backlog not growing past `backlogSeconds` of the rate. */
export function judgeStep(s: StepFigures, o: FindMaxOptions): StepVerdict {
  // A step whose warm-up never settled measured nothing: that is the whole verdict.
  if (s.settled === false) return { held: false, reasons: [`the warm-up did not settle within ${((s.warmupMs ?? 0) / 1000).toFixed(0)} s (backlog ${s.backlogEnd})`] };
  const reasons: string[] = [];
  if (s.intended === 0) reasons.push("no request was intended");
  if (s.lost > 0) reasons.push(`${s.lost} lost`);
  if (!(s.p99Ms <= o.p99Ms)) reasons.push(`clearance p99 ${s.p99Ms} ms above the SLO's ${o.p99Ms} ms`);
  const allowed = (o.backlogSeconds ?? 1) * s.rate;
  const growth = s.backlogEnd - s.backlogStart;
  if (growth > allowed) reasons.push(`backlog grew by ${growth} (from ${s.backlogStart} to ${s.backlogEnd}; more than ${Math.round(allowed)}, ${o.backlogSeconds ?? 1} s of the rate)`);
  return { held: reasons.length === 0, reasons };
}

export interface SearchState {
  /** Highest rate held so far, and the lowest not held. */
  held?: number;
  notHeld?: number;
  steps: { figures: StepFigures; verdict: StepVerdict }[];
}

/** The next rate to try after these steps, or undefined when the search is done. */
export function nextRate(steps: readonly StepFigures[], o: FindMaxOptions): number | undefined {
  const s = searchState(steps, o);
  if (steps.length >= (o.maxSteps ?? 12)) return undefined;
  const ceiling = o.ceiling ?? Number.POSITIVE_INFINITY;
  if (s.notHeld === undefined) {
    // Still rising: the first step, then each held one times the factor (never past the ceiling).
    const last = steps.at(-1)?.rate;
    if (last === undefined) return Math.min(o.startRate, ceiling);
    if (last >= ceiling) return undefined;
    return Math.min(Math.round(last * (o.factor ?? 2)), ceiling);
  }
  if (s.held === undefined) {
    // Even the first rate was not held: halve until one is (or the rate falls below 1/s).
    const lower = Math.floor(s.notHeld / 2);
    return lower >= 1 ? lower : undefined;
  }
  if ((s.notHeld - s.held) / s.held <= (o.tolerance ?? 0.1)) return undefined;
  const mid = Math.round((s.held + s.notHeld) / 2);
  return mid > s.held && mid < s.notHeld ? mid : undefined;
}

/** The steps judged, with the highest rate held and the lowest not held. */
export function searchState(steps: readonly StepFigures[], o: FindMaxOptions): SearchState {
  const out: SearchState = { steps: [] };
  for (const figures of steps) {
    const verdict = judgeStep(figures, o);
    out.steps.push({ figures, verdict });
    if (verdict.held && (out.held === undefined || figures.rate > out.held)) out.held = figures.rate;
    if (!verdict.held && (out.notHeld === undefined || figures.rate < out.notHeld)) out.notHeld = figures.rate;
  }
  // A rate held above one not held (noise on a shared machine): the lower failure bounds the search, so the
  // answer is the highest rate held below it.
  if (out.held !== undefined && out.notHeld !== undefined && out.held > out.notHeld) {
    const below = out.steps.filter((x) => x.verdict.held && x.figures.rate < (out.notHeld as number)).map((x) => x.figures.rate);
    out.held = below.length ? Math.max(...below) : undefined;
  }
  return out;
}

/** Requests intended by `atUs` and not completed by then: the work the mesh owes at that moment. */
export function backlogAt(entries: readonly { intendedUs: number; completedUs: readonly number[] }[], atUs: number): number {
  let n = 0;
  for (const e of entries) if (e.intendedUs <= atUs && !((e.completedUs[0] ?? Number.POSITIVE_INFINITY) <= atUs)) n++;
  return n;
}
