import { base, en, en_AU, Faker } from "@faker-js/faker";

/** One taxpayer of the seeded population. Requests for the same taxpayer share a key, hence a partition. */
export interface Taxpayer {
  tfn: string;
  name: string;
  postcode: string;
}

export interface TaxAssessment {
  eventId: string;
  tfn: string;
  taxpayerName: string;
  postcode: string;
  assessmentYear: string;
  taxableIncomeCents: number;
  taxPayableCents: number;
  medicareLevyCents: number;
  paygWithheldCents: number;
  balanceCents: number;
  lodgementChannel: "MYTAX" | "TAX_AGENT" | "PAPER";
  issuedAt: number;
}

export interface ClearanceResponse {
  eventId: string;
  assessmentEventId: string;
  tfn: string;
  outcome: "CLEARED" | "DEBT_HOLD";
  debtCents: number;
  engineInstance: string;
  checkedAt: number;
}

const TFN_WEIGHTS = [1, 4, 3, 7, 5, 8, 6, 9, 10];

/** True for a 9-digit tax file number whose weighted digit sum is divisible by 11 (the ATO check). */
export function isValidTfn(tfn: string): boolean {
  if (!/^\d{9}$/.test(tfn)) return false;
  return [...tfn].reduce((s, d, i) => s + Number(d) * (TFN_WEIGHTS[i] as number), 0) % 11 === 0;
}

/** Completes 8 digits to a valid TFN, or returns undefined when no 9th digit works (then draw again). */
export function completeTfn(first8: string): string | undefined {
  const sum = [...first8].reduce((s, d, i) => s + Number(d) * (TFN_WEIGHTS[i] as number), 0);
  // 10 * d9 = -sum (mod 11); 10 is its own inverse mod 11.
  const d9 = (((-sum * 10) % 11) + 11) % 11;
  return d9 < 10 ? `${first8}${d9}` : undefined;
}

export const newFaker = (seed: number): Faker => {
  const f = new Faker({ locale: [en_AU, en, base] });
  f.seed(seed);
  return f;
};

/** The seeded taxpayer population shared by the ATO generator and the Centrelink debt registry. */
export function population(seed: number, size: number): Taxpayer[] {
  const f = newFaker(seed);
  const out: Taxpayer[] = [];
  const seen = new Set<string>();
  while (out.length < size) {
    const tfn = completeTfn(f.string.numeric({ length: 8, allowLeadingZeros: false }));
    if (!tfn || seen.has(tfn)) continue;
    seen.add(tfn);
    out.push({ tfn, name: f.person.fullName(), postcode: f.location.zipCode("####") });
  }
  return out;
}

/** Resident income tax for 2025-26 (whole dollars in, cents out). */
export function incomeTaxCents(taxableDollars: number): number {
  const brackets: [number, number, number][] = [
    [190_000, 51_638, 0.45],
    [135_000, 31_288, 0.37],
    [45_000, 4_288, 0.3],
    [18_200, 0, 0.16],
  ];
  for (const [over, base, rate] of brackets) if (taxableDollars > over) return Math.round((base + (taxableDollars - over) * rate) * 100);
  return 0;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Hex digits from a small seeded generator (sfc32, seeded from the factory's faker): faker's own `string.uuid` and
 * `hexadecimal` make one draw per character, a fifth of the generator's CPU at saturation (README, *A generator
 * that keeps up*). Deterministic for a seed, like everything the factory makes.
 */
export class HexSource {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(f: Faker) {
    const word = () => f.number.int({ min: 0, max: 0xffff_ffff });
    [this.#a, this.#b, this.#c, this.#d] = [word(), word(), word(), word()];
  }

  #next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** `n` lower-case hex digits (n even). */
  hex(n: number): string {
    let out = "";
    for (let i = 0; i < n; i += 8) {
      const w = this.#next();
      out += `${HEX_BYTE[w >>> 24]}${HEX_BYTE[(w >>> 16) & 255]}${HEX_BYTE[(w >>> 8) & 255]}${HEX_BYTE[w & 255]}`;
    }
    return out.length === n ? out : out.slice(0, n);
  }

  /** A version-4 UUID (RFC 9562 layout: version nibble 4, variant 10xx). */
  uuid(): string {
    const h = this.hex(32);
    const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

/** Makes tax assessments for the population, deterministically for a seed. */
export class AssessmentFactory {
  readonly #f: Faker;
  readonly #people: Taxpayer[];
  readonly #year: string;
  readonly #hex: HexSource;

  constructor(seed: number, people: Taxpayer[], year = "2025-26") {
    this.#f = newFaker(seed + 1);
    this.#hex = new HexSource(this.#f);
    this.#people = people;
    this.#year = year;
  }

  next(nowMs: number): TaxAssessment {
    const f = this.#f;
    const who = f.helpers.arrayElement(this.#people);
    const income = Math.round(Math.exp(f.number.float({ min: 9.2, max: 12.6 })));
    const tax = incomeTaxCents(income);
    const medicare = income > 27_222 ? Math.round(income * 2) : 0;
    const withheld = Math.round((tax + medicare) * f.number.float({ min: 0.85, max: 1.15 }));
    return {
      eventId: this.#hex.uuid(),
      tfn: who.tfn,
      taxpayerName: who.name,
      postcode: who.postcode,
      assessmentYear: this.#year,
      taxableIncomeCents: income * 100,
      taxPayableCents: tax,
      medicareLevyCents: medicare,
      paygWithheldCents: withheld,
      balanceCents: withheld - tax - medicare,
      lodgementChannel: f.helpers.weightedArrayElement([
        { weight: 70, value: "MYTAX" as const },
        { weight: 28, value: "TAX_AGENT" as const },
        { weight: 2, value: "PAPER" as const },
      ]),
      issuedAt: nowMs,
    };
  }

  /** A W3C trace context for a new trace: version 00, sampled. */
  traceparent(): string {
    return `00-${this.#hex.hex(32)}-${this.#hex.hex(16)}-01`;
  }
}

/** Centrelink's debt registry: a seeded share of the population owes a debt. */
export class DebtRegistry {
  readonly #debts = new Map<string, number>();

  constructor(seed: number, people: Taxpayer[], debtorShare = 0.08) {
    const f = newFaker(seed + 2);
    for (const p of people) if (f.number.float() < debtorShare) this.#debts.set(p.tfn, f.number.int({ min: 50, max: 25_000 }) * 100);
  }

  /** The outstanding debt of a taxpayer in cents (0 when none). */
  debtOf(tfn: string): number {
    return this.#debts.get(tfn) ?? 0;
  }

  get debtors(): number {
    return this.#debts.size;
  }
}

/** A child span in the same trace (same trace id, new span id). */
export function childTraceparent(parent: string | undefined, f: Faker): string | undefined {
  const m = parent && /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent);
  if (!m) return undefined;
  return `00-${m[1]}-${f.string.hexadecimal({ length: 16, casing: "lower", prefix: "" })}-${m[2]}`;
}
