/**
 * What happens to a message after the sandbox accepts it, pure and deterministic: each id's fate
 * (its final code, when it turns final, whether and when it is read) is drawn from a hash of the
 * seed and the id, so it does not depend on the order of requests, on timing, or on which worker
 * asks. The sandbox answers `<status>` from it: 101 ENROUTE (110 SENDING in the second half of
 * the wait) before the final moment, the final code with `date_completed` (no zone, as the
 * gateway's docs show it) after, and 116 READ with its own date once a delivered message is read.
 */
import { InvalidOptionError } from '../errors.js';

export interface DeliverySimulation {
  /** From acceptance to the final state, ms: [least, most]. */
  delayMs: readonly [number, number];
  /** Final codes and their shares (normalised): `{ 102: 0.85, 105: 0.05, 103: 0.05, 108: 0.05 }`. */
  outcomes: Readonly<Record<number, number>>;
  /** Share of delivered (102) messages that are then read (116), 0..1. */
  readShare: number;
  /** From delivery to reading, ms: [least, most]. */
  readDelayMs: readonly [number, number];
  /** The same seed gives every id the same fate. */
  seed: number;
}

export interface Fate {
  finalCode: number;
  finalAt: number;
  readAt: number | undefined;
}

/** A number in [0, 1) from (seed, id, salt): splitmix32 over their mix. */
function unit(seed: number, id: number, salt: number): number {
  let x = (seed ^ Math.imul(id % 0x7fffffff, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  // The id's high part too (ids go up to 2^53).
  x = (x ^ Math.floor(id / 0x7fffffff)) >>> 0;
  return x / 2 ** 32;
}

const within = ([lo, hi]: readonly [number, number], u: number): number =>
  Math.round(lo + (hi - lo) * u);

export function fateOf(id: number, acceptedAt: number, sim: DeliverySimulation): Fate {
  const entries = Object.entries(sim.outcomes).map(([c, w]) => [Number(c), w] as const);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let pick = unit(sim.seed, id, 0) * total;
  let finalCode = entries[entries.length - 1]?.[0] ?? 102;
  for (const [code, w] of entries) {
    if (pick < w) {
      finalCode = code;
      break;
    }
    pick -= w;
  }
  const finalAt = acceptedAt + within(sim.delayMs, unit(sim.seed, id, 1));
  const read = finalCode === 102 && unit(sim.seed, id, 2) < sim.readShare;
  return {
    finalCode,
    finalAt,
    readAt: read ? finalAt + within(sim.readDelayMs, unit(sim.seed, id, 3)) : undefined,
  };
}

/** `2024-11-11T12:00:00`: the gateway's date_completed, UTC, no zone. */
export function gatewayDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** The `<status>` a message with this fate has at `now`. */
export function statusAt(
  fate: Fate,
  acceptedAt: number,
  now: number,
): { code: number; dateCompleted?: string } {
  if (now < fate.finalAt) {
    return { code: now < (acceptedAt + fate.finalAt) / 2 ? 101 : 110 };
  }
  if (fate.readAt !== undefined && now >= fate.readAt) {
    return { code: 116, dateCompleted: gatewayDate(fate.readAt) };
  }
  return { code: fate.finalCode, dateCompleted: gatewayDate(fate.finalAt) };
}

/** `102=0.85,105=0.05,…` → outcomes; names the part that is wrong. */
export function parseOutcomes(text: string, what = '--delivery'): Record<number, number> {
  const out: Record<number, number> = {};
  for (const part of text.split(',')) {
    const m = /^\s*(\d{3})\s*=\s*(\d*\.?\d+)\s*$/.exec(part);
    if (!m) {
      throw new InvalidOptionError(
        `${what}: ${JSON.stringify(part)} is not code=share (e.g. 102=0.85,105=0.15)`,
      );
    }
    out[Number(m[1])] = Number(m[2]);
  }
  if (Object.values(out).reduce((s, w) => s + w, 0) <= 0) {
    throw new InvalidOptionError(`${what}: the shares add up to nothing`);
  }
  return out;
}

/** `1000-5000` (or `3000`) → [1000, 5000]. */
export function parseRange(text: string, what: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (!m || hi < lo) {
    throw new InvalidOptionError(
      `${what} must be ms or a range of ms like 1000-5000 (got ${text})`,
    );
  }
  return [lo, hi];
}
