/**
 * ChorusErrors across a worker-thread boundary. A thrown error crosses `postMessage` as a plain
 * Error (structured clone keeps message and name, drops the class, code, status and location),
 * so a bad retrain config would reach an HTTP client as a 500 and a bad ALS option would lose its
 * field. `serveWorker` sends `toWire(e)` as data instead, and `WorkerPool` rejects with
 * `fromWire(w)`: the same class, code, status and location, and the worker's stack.
 */
import { ChorusError, ConfigError, DataError, ModelStateError, NotFoundError, UnknownNameError, formatLocation, type ErrorLocation } from '../errors.js';

export interface WireError {
  name: string;
  code: string;
  /** The message without the location prefix the ChorusError constructor adds. */
  message: string;
  status: number;
  location?: ErrorLocation;
  stack?: string;
}

/**
 * Classes rebuilt by name. Any other ChorusError (a layer's own subclass) comes back as a
 * ChorusError with its name, code, status and location, which is all that answering it needs.
 */
const CLASSES: Record<string, { prototype: ChorusError }> = {
  ConfigError,
  DataError,
  ModelStateError,
  NotFoundError,
  UnknownNameError,
};

export function toWire(e: ChorusError): WireError {
  const where = formatLocation(e.location);
  const message = where && e.message.startsWith(`${where}: `) ? e.message.slice(where.length + 2) : e.message;
  return { name: e.name, code: e.code, message, status: e.status, ...(e.location ? { location: e.location } : {}), ...(e.stack ? { stack: e.stack } : {}) };
}

export function fromWire(w: WireError): ChorusError {
  const e = new ChorusError(w.code, w.message, { status: w.status, location: w.location });
  // The subclasses' constructors differ (UnknownNameError builds its message from parts), and
  // their fields are all ChorusError's; so the class is restored by prototype, not by constructor.
  const cls = CLASSES[w.name];
  if (cls) Object.setPrototypeOf(e, cls.prototype);
  e.name = w.name;
  // The worker's stack says where it was thrown; this thread's would only name fromWire.
  if (w.stack) e.stack = w.stack;
  return e;
}
