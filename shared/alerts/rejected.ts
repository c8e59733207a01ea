/**
 * The receiver refused a message for good: sending it again cannot help, so its delivery is
 * marked `rejected` with the reason instead of staying pending for ever, and the job is not
 * retried for it. Transient failures (SMTP 4xx, HTTP 408, 429 and 5xx, timeouts, a lost
 * connection) stay plain errors: pending, retried.
 */
export class DeliveryRejectedError extends Error {
  override readonly name = 'DeliveryRejectedError';
}

/** SMTP replies 5yz are permanent negative completions (RFC 5321, 4.2.1); 4yz are transient. */
export const isPermanentSmtpReply = (code: unknown): boolean => typeof code === 'number' && code >= 500 && code < 600;

/** An HTTP 4xx refuses the request itself, except 408 (timeout) and 429 (slow down); 5xx is the receiver's trouble. */
export const isPermanentHttpStatus = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429;
