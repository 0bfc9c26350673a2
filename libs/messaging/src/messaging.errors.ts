/** Why a message handler could not finish; the consumer maps each to ack/nak/term once. */
export enum MessagingErrorCode {
  /** The message can never be processed (bad shape, unknown version): terminate it. */
  Unprocessable = 'unprocessable',
  /** Processing should be tried again later (a dependency is down): nak with a delay. */
  RetryLater = 'retry_later',
}

export class MessagingError extends Error {
  constructor(
    readonly code: MessagingErrorCode,
    message: string,
    readonly retryDelayMs = 2000,
  ) {
    super(message);
    this.name = 'MessagingError';
  }

  static unprocessable(message: string): MessagingError {
    return new MessagingError(MessagingErrorCode.Unprocessable, message);
  }

  static retryLater(message: string, delayMs = 2000): MessagingError {
    return new MessagingError(MessagingErrorCode.RetryLater, message, delayMs);
  }
}
