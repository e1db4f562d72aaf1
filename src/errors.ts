/**
 * The error hierarchy. Every error carries a fixed `code` (tests and callers switch on it,
 * never on `instanceof`, which jest's module realms can break) and, where there is one, a `cause`.
 * Messages never contain the API key: nothing that holds it is ever interpolated here.
 */

export type ErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_INPUT'
  | 'XML_UNSAFE_TEXT'
  | 'XML_MALFORMED'
  | 'GATEWAY_HTTP'
  | 'GATEWAY_TIMEOUT'
  | 'GATEWAY_CONNECTION'
  | 'GATEWAY_ANSWER_TOO_LARGE'
  | 'GATEWAY_PACKAGE_ERROR'
  | 'REDIS_UNAVAILABLE'
  | 'CAMPAIGN_PURGING'
  | 'WAIT_TIMEOUT';

export class ViberBulkError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ViberBulkError';
  }
}

/** A setting is out of range or missing. The message names the option and the fix. */
export class InvalidOptionError extends ViberBulkError {
  constructor(message: string) {
    super('INVALID_OPTION', message);
    this.name = 'InvalidOptionError';
  }
}

/** One rule broken by one field of one message. */
export interface FieldProblem {
  field: string;
  rule: string;
}

/** An input file (CSV/NDJSON) could not be read at a given line. */
export class InvalidInputError extends ViberBulkError {
  readonly line: number | undefined;

  constructor(message: string, line?: number, options?: { cause?: unknown }) {
    super('INVALID_INPUT', line === undefined ? message : `line ${line}: ${message}`, options);
    this.name = 'InvalidInputError';
    this.line = line;
  }
}

/** Text that XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF). */
export class XmlUnsafeTextError extends ViberBulkError {
  readonly field: string;
  readonly position: number;

  constructor(field: string, position: number, codePoint: number) {
    const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
    super(
      'XML_UNSAFE_TEXT',
      `${field}: character U+${hex} at position ${position} cannot be carried by XML 1.0`,
    );
    this.name = 'XmlUnsafeTextError';
    this.field = field;
    this.position = position;
  }
}

/** The gateway's answer is not the XML we expect (HTML error page, truncated body, wrong root…). */
export class XmlMalformedError extends ViberBulkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('XML_MALFORMED', message, options);
    this.name = 'XmlMalformedError';
  }
}

/** HTTP status other than 200 (the gateway answers everything, errors included, with 200). */
export class GatewayHttpError extends ViberBulkError {
  readonly statusCode: number;

  constructor(statusCode: number) {
    super('GATEWAY_HTTP', `gateway answered HTTP ${statusCode}`);
    this.name = 'GatewayHttpError';
    this.statusCode = statusCode;
  }
}

export class GatewayTimeoutError extends ViberBulkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GATEWAY_TIMEOUT', message, options);
    this.name = 'GatewayTimeoutError';
  }
}

export class GatewayConnectionError extends ViberBulkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GATEWAY_CONNECTION', message, options);
    this.name = 'GatewayConnectionError';
  }
}

/** `<package><error>CODE</error></package>`: the request as a whole was refused. */
/** The gateway's answer ran past `maxAnswerBytes`: abandoned, a transport failure (retried). */
export class GatewayAnswerTooLargeError extends ViberBulkError {
  constructor(maxBytes: number) {
    super('GATEWAY_ANSWER_TOO_LARGE', `gateway answer is larger than ${maxBytes} bytes: abandoned`);
    this.name = 'GatewayAnswerTooLargeError';
  }
}

export class GatewayPackageError extends ViberBulkError {
  readonly statusCode: number;
  readonly statusName: string;

  constructor(statusCode: number, statusName: string) {
    super('GATEWAY_PACKAGE_ERROR', `gateway refused the package: ${statusCode} ${statusName}`);
    this.name = 'GatewayPackageError';
    this.statusCode = statusCode;
    this.statusName = statusName;
  }
}

export class RedisUnavailableError extends ViberBulkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_UNAVAILABLE', message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** True for an error of ours with the given code, across module realms. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** An enqueue met a purge of the same campaign: nothing of that chunk was written. */
export class CampaignPurgingError extends ViberBulkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CAMPAIGN_PURGING', message, options);
    this.name = 'CampaignPurgingError';
  }
}

/** waitUntilFinished gave up: the campaign was not finished in time. */
export class WaitTimeoutError extends ViberBulkError {
  constructor(message: string) {
    super('WAIT_TIMEOUT', message);
    this.name = 'WaitTimeoutError';
  }
}
