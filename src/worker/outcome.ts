/**
 * What a gateway answer means for each message of a batch — pure, so it is tested exhaustively
 * without Redis or HTTP. The worker only carries these decisions out.
 */
import { classify, codeName, MESSAGE_CODES, PACKAGE_CODES } from '../xml/codes.js';
import type { SendAnswer } from '../xml/parse.js';
import type { FinishedRecord } from '../job.js';

export type Decision =
  /** Accepted with this msg_id. */
  | { action: 'complete'; msgId: number; recovered?: boolean }
  /** 208: the gateway has it already; read its msg_id back with `<status>`, then complete. */
  | { action: 'recover' }
  /** Will never be accepted as it is: it fails now, no retries. */
  | { action: 'fail'; code: number | undefined; reason: string; unreadable?: true }
  /** Worth another attempt later: it stays in its package (BullMQ backoff, uses an attempt). */
  | { action: 'retry'; code: number | undefined; reason: string }
  /**
   * It stays in its package, whose job goes back to the wait list untouched, using no attempt
   * (account problems, shutdown).
   */
  | { action: 'requeue'; reason: string }
  /** Its campaign is paused: back to the campaign's backlog, parked until resumed. */
  | { action: 'park' }
  /** Its campaign was cancelled: it ends unsent. */
  | { action: 'cancel' }
  /** Its campaign's deadline passed before it was sent: it ends unsent. */
  | { action: 'expire' }
  /** Its phone is on the queue's suppression list: it ends unsent. */
  | { action: 'suppress' }
  /** Its campaign is before its start or outside its window: back to the campaign's backlog. */
  | { action: 'hold' }
  /**
   * It ended already (its package came back after a crash between the settle step and BullMQ):
   * it only leaves the package, nothing is sent or counted again; its record, if it has one.
   */
  | { action: 'ended'; record: FinishedRecord | undefined };

/** Why a worker stopped taking work: an account problem, or the gateway refusing us over HTTP. */
export interface HaltReason {
  level: 'message' | 'package' | 'http';
  code: number;
  name: string;
}

export interface BatchDecision {
  decisions: Map<number, Decision>;
  /** Package error 212: every worker should pause before sending again. */
  throttle: boolean;
  /** The account cannot send: stop taking work. Holds the code and its name. */
  halt: HaltReason | undefined;
  /** Package error 201 on a batch of several: send each half on its own to find the culprit. */
  bisect: boolean;
}

const describe = (level: 'message' | 'package', code: number): string => {
  const info = (level === 'message' ? MESSAGE_CODES : PACKAGE_CODES)[code];
  return info ? `${code} ${info.name}: ${info.meaning}` : `${code} ${codeName(level, code)}`;
};

function all(ids: readonly number[], d: Decision): Map<number, Decision> {
  return new Map(ids.map((id) => [id, d]));
}

export function decideBatch(answer: SendAnswer, ids: readonly number[]): BatchDecision {
  const out: BatchDecision = {
    decisions: new Map(),
    throttle: false,
    halt: undefined,
    bisect: false,
  };
  if (answer.kind === 'package-error') {
    const code = answer.code;
    const reason = `package ${describe('package', code)}`;
    switch (classify('package', code)) {
      case 'throttled':
        out.throttle = true;
        out.decisions = all(ids, { action: 'requeue', reason });
        break;
      case 'account':
        out.halt = { level: 'package', code, name: codeName('package', code) };
        out.decisions = all(ids, { action: 'requeue', reason });
        break;
      case 'malformed':
        if (ids.length > 1) out.bisect = true;
        else out.decisions = all(ids, { action: 'fail', code: undefined, reason });
        break;
      default:
        out.decisions = all(ids, { action: 'retry', code: undefined, reason });
    }
    return out;
  }
  for (const id of ids) {
    const r = answer.results.get(id);
    if (!r) {
      out.decisions.set(id, {
        action: 'retry',
        code: undefined,
        reason: 'missing from the gateway answer',
      });
      continue;
    }
    const reason = describe('message', r.code);
    switch (classify('message', r.code)) {
      case 'accepted':
        // Accepted without an id should not happen; a retry will answer 208 and recover it.
        out.decisions.set(
          id,
          r.msgId > 0
            ? { action: 'complete', msgId: r.msgId }
            : { action: 'retry', code: r.code, reason: 'accepted without a msg_id' },
        );
        break;
      case 'duplicate':
        out.decisions.set(id, { action: 'recover' });
        break;
      case 'permanent':
        out.decisions.set(id, { action: 'fail', code: r.code, reason });
        break;
      case 'account':
        out.halt ??= { level: 'message', code: r.code, name: codeName('message', r.code) };
        out.decisions.set(id, { action: 'requeue', reason });
        break;
      default:
        out.decisions.set(id, { action: 'retry', code: r.code, reason });
    }
  }
  return out;
}
