/** The three kinds of Viber message the gateway sends (seed page: `<type>`). */
export const MESSAGE_TYPES = ['text', 'image', 'button'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * One Viber message, as the producer accepts it and as its record in our store keeps it.
 * `id` is the user's numeric message id: unique within the gateway account, it is also
 * the queue's deduplication key. It never holds the API key.
 */
export interface ViberMessage {
  /** The user's numeric message id, a positive safe integer. */
  id: number;
  /** Recipient: up to 21 characters of `+` and digits. */
  phone: string;
  /** Alpha name: 1 to 11 characters. */
  sender: string;
  type: MessageType;
  /** UTF-8 text, non-empty. */
  text: string;
  /** http(s) URL ending in .jpg/.jpeg/.png/.gif; required for `image` and `button`. */
  image?: string;
  /** Button caption, 1 to 19 characters; `button` only. */
  button?: string;
  /** Where the button leads; `button` only. */
  url?: string;
  /**
   * The SMS sent when Viber cannot deliver this message (src/fallback.ts): its text. Without it,
   * no SMS is ever sent for the message.
   */
  smsText?: string;
  /** The SMS's alpha name, 1 to 11 characters; the Viber `sender` when absent. */
  smsSender?: string;
}

/** An SMS as a `<message>` package carries it (the gateway's attributes `recipient`, `sender`). */
export interface SmsMessage {
  /** Its id on the gateway account: unique there, as a Viber message's. */
  id: number;
  phone: string;
  /** Alpha name: 1 to 11 characters. */
  sender: string;
  text: string;
}

/**
 * A message as the queue stores it: its own fields; the rest in the shared set its record names
 * (src/campaign/shared.ts).
 */
export type StoredMessage = Pick<ViberMessage, 'id' | 'phone'> & Partial<ViberMessage>;
