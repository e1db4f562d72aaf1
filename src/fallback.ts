/**
 * Viber → SMS fallback: how a message's SMS is named in our store and on the gateway.
 *
 * A message of campaign `c` that Viber cannot deliver becomes one SMS of the companion campaign
 * `c~sms` (a name no user campaign can have: `~` is not allowed in one). The companion has the
 * campaign's control, deadline and gate (src/commands/includes/parentOf.lua reads them under the
 * parent's name), and its own counts, state, backlog and packages: SMS go through the dispatcher,
 * the rate limit, packages, 208 recovery and tracking as Viber messages do, never in the same
 * package.
 *
 * The SMS's gateway id is `10^15 + id`. User ids are refused from 10^15 up (producer/validate.ts),
 * so no SMS id can equal a user id; user ids are unique on the gateway account, so SMS ids are too,
 * across every queue sending on that account, and every one stays a safe integer (< 2·10^15).
 */

export const FALLBACK_SUFFIX = '~sms';
/** Where SMS fallback ids start: user ids are below it. */
export const FALLBACK_ID_BASE = 1_000_000_000_000_000;
/** The highest message id a producer accepts. */
export const MAX_MESSAGE_ID = FALLBACK_ID_BASE - 1;

/**
 * Final Viber codes that send the fallback: 103 EXPIRED, 105 UNDELIVERABLE, 108 REJECTED,
 * 109 DISCARDED, 111 NOT_SUPPORTED (README "SMS fallback" says why these and not the others).
 */
export const DEFAULT_FALLBACK_CODES: readonly number[] = [103, 105, 108, 109, 111];

/** The companion campaign that holds `campaign`'s SMS fallbacks. */
export const fallbackCampaign = (campaign: string): string => campaign + FALLBACK_SUFFIX;

export const isFallbackCampaign = (campaign: string): boolean => campaign.endsWith(FALLBACK_SUFFIX);

/** The gateway id of message `id`'s SMS. */
export const fallbackId = (id: number): number => FALLBACK_ID_BASE + id;

/** The message an SMS id falls back for. */
export const viberIdOf = (smsId: number): number => smsId - FALLBACK_ID_BASE;

/** Most SMS segments a fallback text may take unless told otherwise (each one is billed). */
export const SMS_MAX_SEGMENTS = 6;
