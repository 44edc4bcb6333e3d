import type { IncomingMessage } from 'node:http';
import type { FastifyReply } from 'fastify';

/** How much of a refused request's unread body is read and dropped before the answer, at most. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;
const DRAIN_MAX_MS = 3_000;

/** Requests whose body has been drained once: a second drain would wait out its bounds again. */
const drained = new WeakSet<IncomingMessage>();

/**
 * Reads and drops what is left of a request body, until it ends or `DRAIN_MAX_BYTES` or
 * `DRAIN_MAX_MS` is reached, whichever comes first. Resolves true when the body was read to its end.
 */
export function drainBody(raw: IncomingMessage): Promise<boolean> {
  if (raw.complete || raw.readableEnded) return Promise.resolve(true);
  if (raw.destroyed || drained.has(raw)) return Promise.resolve(false);
  drained.add(raw);
  // A parser still fed from the body (a form's) stops: what is left is dropped here, not parsed.
  raw.unpipe();
  return new Promise((resolve) => {
    let read = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose);
      if (!ended) raw.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > DRAIN_MAX_BYTES) finish(false);
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(raw.complete);
    const timer = setTimeout(() => finish(false), DRAIN_MAX_MS);
    raw.on('data', onData).once('end', onEnd).once('close', onClose).once('error', onClose);
    raw.resume();
  });
}

/**
 * A request answered before its body was read (a form refused for its token or its query, a body
 * sent to no route, a JSON body over the size limit) would otherwise have the whole body read and
 * dropped by Node after the answer, however large. Answering and closing at once while the client still sends makes the client's
 * system reset the connection, and the client may lose the answer (curl's "send failure"): so up
 * to `DRAIN_MAX_BYTES` or `DRAIN_MAX_MS` of it is read and dropped first, and a client still
 * sending after that has its connection closed after the answer.
 */
export async function settleUnreadBody(raw: IncomingMessage, reply: FastifyReply): Promise<void> {
  if (raw.complete || raw.readableEnded) return;
  if (!(await drainBody(raw))) reply.header('connection', 'close');
}
