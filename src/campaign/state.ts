/**
 * A message's state as the campaign store records it, one short string per message:
 *
 *   w        waiting: enqueued, not yet taken into a batch (also: handed back, throttled)
 *   a        active: in a batch being sent
 *   d        delayed: a transient failure; BullMQ retries it after its backoff
 *   c:<code> completed with the gateway's code (always 1: accepted, or 208 recovered as 1)
 *   f:<code> failed for good; code is the gateway's, or empty for a transport failure
 *   p        paused: its campaign is paused; parked in its campaign's backlog until resumed
 *   x        cancelled: its campaign was cancelled before it was sent
 *   e        expired: its campaign's deadline (`expires`) passed before it was sent
 *   u        suppressed: its phone is on the queue's suppression list (at enqueue, or when its
 *            package was opened); never sent
 *
 * The producer writes the initial `w` in the same Lua call that queues the message (enqueue-10.lua);
 * a message in a package is still `w` until its worker marks it active (activate-5.lua refuses
 * p/x); pkgSettle-15.lua writes every outcome of an attempt at a package (d stays in the package
 * for its job's next attempt, p goes back to the backlog only while the campaign is paused); the
 * dispatcher's sweep ends packages of cancelled (x) and expired (e) campaigns the same way;
 * campaign controls (controls.ts) move w/d ⇄ p, w/d/p → x and f → w through transition-4.lua and
 * requeue-6.lua. Every script keeps the counts in step.
 */
export type StateName =
  | 'waiting'
  | 'active'
  | 'delayed'
  | 'completed'
  | 'failed'
  | 'paused'
  | 'cancelled'
  | 'expired'
  | 'suppressed';

export const STATE_NAMES: readonly StateName[] = [
  'waiting',
  'active',
  'delayed',
  'completed',
  'failed',
  'paused',
  'cancelled',
  'expired',
  'suppressed',
];

const BY_LETTER: Readonly<Record<string, StateName>> = {
  w: 'waiting',
  a: 'active',
  d: 'delayed',
  c: 'completed',
  f: 'failed',
  p: 'paused',
  x: 'cancelled',
  e: 'expired',
  u: 'suppressed',
};

export const state = {
  waiting: 'w',
  active: 'a',
  delayed: 'd',
  completed: (code: number): string => `c:${code}`,
  failed: (code?: number): string => `f:${code ?? ''}`,
  paused: 'p',
  cancelled: 'x',
  expired: 'e',
  suppressed: 'u',
} as const;

/** Decodes a stored state string: its name and the gateway code, if any. */
export function decodeState(raw: string): { state: StateName; code: number | undefined } {
  const name = BY_LETTER[raw.charAt(0)];
  if (!name) throw new Error(`unknown stored state ${JSON.stringify(raw)}`);
  const codeText = raw.slice(2);
  return { state: name, code: codeText === '' ? undefined : Number(codeText) };
}

/** Why a message was never sent (its failure reason, or its record's in results). */
export function unsentReason(
  state: 'cancelled' | 'expired' | 'suppressed',
  campaign: string,
): string {
  if (state === 'suppressed') return 'suppressed: its phone is on the suppression list';
  return state === 'cancelled'
    ? `cancelled: campaign ${campaign} was cancelled`
    : `expired: campaign ${campaign} passed its deadline before this was sent`;
}

/** Why a campaign's messages are held back: see src/commands/includes/heldLetter.lua. */
export type HeldLetter = 'p' | 'x' | 'e' | 's';
