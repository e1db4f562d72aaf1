/**
 * A message's state as the campaign store records it, one short string per message:
 *
 *   w        waiting: enqueued, not yet taken into a batch (also: handed back, throttled)
 *   a        active: in a batch being sent
 *   d        delayed: a transient failure; BullMQ retries it after its backoff
 *   c:<code> completed with the gateway's code (always 1: accepted, or 208 recovered as 1)
 *   f:<code> failed for good; code is the gateway's, or empty for a transport failure
 *
 * Transitions happen in the worker, one Lua call per batch (transition.lua), and only there;
 * the producer writes the initial `w` in the same call that claims the id (claim.lua).
 */
export type StateName = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

export const STATE_NAMES: readonly StateName[] = [
  'waiting',
  'active',
  'delayed',
  'completed',
  'failed',
];

const BY_LETTER: Readonly<Record<string, StateName>> = {
  w: 'waiting',
  a: 'active',
  d: 'delayed',
  c: 'completed',
  f: 'failed',
};

export const state = {
  waiting: 'w',
  active: 'a',
  delayed: 'd',
  completed: (code: number): string => `c:${code}`,
  failed: (code?: number): string => `f:${code ?? ''}`,
} as const;

/** Decodes a stored state string: its name and the gateway code, if any. */
export function decodeState(raw: string): { state: StateName; code: number | undefined } {
  const name = BY_LETTER[raw.charAt(0)];
  if (!name) throw new Error(`unknown stored state ${JSON.stringify(raw)}`);
  const codeText = raw.slice(2);
  return { state: name, code: codeText === '' ? undefined : Number(codeText) };
}
