import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { BadInputError } from "../lab/errors.ts";
import { ninesX, type Series } from "./html/svg.ts";

/**
 * Published percentile figures to draw beside a run's distribution on the nines plot, e.g. a production system's
 * clearance p95 and p99. From `--reference seed` or a JSON file of percentile -> milliseconds: `{"95": 142, "99": 238}`.
 */
export interface Reference {
  label: string;
  /** [percentile, ms], ordered by percentile. */
  points: [number, number][];
}

/** The seed's published clearance figures under continuous load (../shared/DOMAIN.md): p95 142 ms, p99 238 ms. */
export const SEED_REFERENCE: Reference = { label: "seed (published: p95 142 ms, p99 238 ms)", points: [[95, 142], [99, 238]] };

const HINT = 'give --reference seed, or a JSON file mapping percentiles to milliseconds, e.g. {"95": 142, "99": 238}';

/** `seed` or a file; every problem in the file is reported at once, with its key. */
export function loadReference(arg: string): Reference {
  if (arg === "seed") return SEED_REFERENCE;
  let text: string;
  try {
    text = readFileSync(arg, "utf8");
  } catch (e) {
    throw new BadInputError(`--reference ${arg}: cannot read it`, [(e as Error).message], HINT);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BadInputError(`--reference ${arg}: not valid JSON`, [(e as Error).message], HINT);
  }
  return parseReference(raw, arg);
}

/** Checks a parsed reference file: an object whose keys are percentiles in (0, 100) and values positive ms. */
export function parseReference(raw: unknown, source: string): Reference {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new BadInputError(`--reference ${source}: expected an object of percentile -> ms`, [], HINT);
  const problems: string[] = [];
  const points: [number, number][] = [];
  for (const [k, v] of Object.entries(raw)) {
    const p = /^\d+(\.\d+)?$/.test(k) ? Number(k) : Number.NaN;
    if (!(p > 0 && p < 100)) problems.push(`${source}: key "${k}": not a percentile between 0 and 100 (write "95" or "99.9")`);
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) problems.push(`${source}: "${k}": ${JSON.stringify(v)} is not a latency in ms (a number >= 0)`);
    else if (p > 0 && p < 100) points.push([p, v]);
  }
  if (!problems.length && !points.length) problems.push(`${source}: no percentiles given`);
  if (problems.length) throw new BadInputError(`--reference ${source}: invalid reference`, problems, HINT);
  return { label: basename(source, ".json"), points: points.sort((a, b) => a[0] - b[0]) };
}

/** The reference as a dashed, dotted series on the nines axis. */
export function referenceSeries(r: Reference): Series {
  return { name: `reference: ${r.label}`, color: "#6d4c41", dash: "5 4", width: 1.5, dots: true, points: r.points.map(([p, ms]) => [ninesX(p), ms]) };
}
