/** What the sandbox can do wrong on request (server.ts `inject`, `faultRates`): chaos runs and tests. */
export type Fault =
  /** An HTTP error status; nothing processed. */
  | { kind: 'http-error'; status?: number }
  /** The connection is reset before anything is processed. */
  | { kind: 'reset' }
  /** The package is processed (messages accepted), then the connection drops: the answer is lost. */
  | { kind: 'lose-answer' }
  /** Processed, but the answer comes after `delayMs` (longer than the client waits). */
  | { kind: 'slow-answer'; delayMs: number }
  /** Processed, and only half of the answer is written. */
  | { kind: 'truncate' }
  /** A 200 with an HTML error page; nothing processed. */
  | { kind: 'html' }
  /** `<package><error>code</error></package>`; nothing processed. */
  | { kind: 'package-error'; code: number }
  /** Processed in full, but the answer leaves out the last `<msg>`. */
  | { kind: 'omit-last' }
  /** Every message of the package that is not a duplicate gets this code and is not accepted. */
  | { kind: 'message-code'; code: number };

export type FaultKind = Fault['kind'];

export interface FaultRate {
  fault: Fault;
  /** Probability per request, 0..1. */
  p: number;
}
