/**
 * What every request meets before its handler: the JSON parser with its depth cap, CORS, rate
 * limits (per key, and per address for failed authentications; counted in Redis when several
 * servers must share them), the key check, and the one error shape for everything that goes
 * wrong, Fastify's own errors included.
 */
import cors from '@fastify/cors';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyScope } from '../store/types.js';
import { requestToken, type KeyRing } from './auth.js';
import { AuthError, errorReply, RateLimitError, RequestError } from './errors.js';
import { deeperThan } from './json-depth.js';
import { MAX_JSON_DEPTH } from './schemas.js';
import { connectRedis } from './redis.js';

export interface EdgeOptions {
  /** Requests per key (or per IP without a key) per window; false disables. */
  rateLimit: { max: number; windowMs: number } | false;
  /**
   * Failed authentications (missing or wrong key) per client address (an IPv6 address by its
   * /64, which one host may own whole) per window. Past it, every
   * keyed request from that address is refused (429) before its key is even checked, so a key
   * cannot be guessed faster than this; false disables.
   */
  authFailureLimit: { max: number; windowMs: number } | false;
  /** Origins allowed by CORS (exact, or `*` for any); empty sends no CORS headers at all. */
  corsOrigins: string[];
  /** Fastify's request log is on: 5xx details go there instead of stderr. */
  logger: boolean;
  /**
   * Count the rate limits in this Redis (`redis://host:6379`) instead of in the process, so that
   * several servers behind one load balancer share one budget per key and per address.
   */
  redis?: string;
}

/** Answer `err` in Chorus's shape (Personalizer's under its routes); 5xx details go to the log only. */
export function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply, logger: boolean): void {
  const r = errorReply(err, req.url);
  if (r.internal) {
    req.log.error(err);
    if (!logger) process.stderr.write(`chorus serve: ${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  if (err instanceof RateLimitError) void reply.header('retry-after', String(err.retryAfterSeconds));
  void reply.status(r.status).type('application/json').send(r.body);
}

/**
 * Bodies of type application/json: Fastify's own parser (it refuses `__proto__` and
 * `constructor` keys), then the nesting cap: a deeper body is a 400 naming the field.
 */
function installJsonParser(app: FastifyInstance): void {
  // Callback form: the default parser calls `done` (its type also allows a promise form).
  const parse = app.getDefaultJsonParser('error', 'error') as (req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => void;
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parse(req, body as string, (err, value) => {
      if (err) return done(err, undefined);
      const at = deeperThan(value, MAX_JSON_DEPTH);
      if (at !== null) return done(new RequestError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, at, 'E_TOO_DEEP'), undefined);
      done(null, value);
    });
  });
}

/**
 * Register the edge on `app` (before its routes) and return the per-route key check, an
 * `onRequest` hook for a scope.
 */
export async function installEdge(app: FastifyInstance, keys: KeyRing, o: EdgeOptions): Promise<(scope: KeyScope) => (req: FastifyRequest) => Promise<void>> {
  installJsonParser(app);
  app.setErrorHandler((err, req, reply) => sendError(err, req, reply, o.logger));
  app.setNotFoundHandler((req, reply) => {
    sendError(new RequestError(`no route ${req.method} ${req.url.split('?')[0]}`, undefined, 'E_NO_ROUTE', 404), req, reply, o.logger);
  });

  if (o.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: o.corsOrigins.includes('*') ? '*' : o.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-api-key', 'ocp-apim-subscription-key'],
      // Keys travel in headers, never in cookies: no credentialed requests.
      credentials: false,
      maxAge: 600,
    });
  }

  if (o.rateLimit || o.authFailureLimit) {
    const general = o.rateLimit;
    // Once running, a Redis that stops answering makes the limits let requests through (logged)
    // rather than refuse every request: serving outlives a cache.
    const link = o.redis ? await connectRedis(o.redis, 'rate limits are not enforced until it is back') : null;
    const redis = link?.client ?? null;
    if (link) app.addHook('onClose', () => link.close());
    await app.register(rateLimit, {
      ...(redis ? { redis, nameSpace: 'chorus-rate-limit:', skipOnError: true } : {}),
      // The per-key limit runs after the key check (it keys on the key), on every keyed route.
      global: Boolean(general),
      ...(general ? { max: general.max, timeWindow: general.windowMs } : {}),
      keyGenerator: (req) => {
        const t = requestToken(req.headers);
        return t ? `key:${keys.idOf(t)}` : `ip:${normalizeIP(req.ip)}`;
      },
      errorResponseBuilder: (_req, ctx) => new RateLimitError(`rate limit exceeded (${ctx.max} requests per ${ctx.after}); retry later`, Math.ceil(ctx.ttl / 1000)),
    });
  }
  const failures = o.authFailureLimit
    ? app.createRateLimit({ max: o.authFailureLimit.max, timeWindow: o.authFailureLimit.windowMs, keyGenerator: (req) => `auth-failure:${normalizeIP(req.ip)}` })
    : null;

  return (scope) => async (req) => {
    if (failures) {
      // Look without counting: only failures count, but a blocked address must not learn
      // whether its next guess is right, so the check comes before the key is verified.
      const seen = await failures(req, { increment: false });
      if (!seen.isAllowed && seen.remaining === 0) {
        throw new RateLimitError(
          `too many failed authentications from this address (${seen.max} per ${seen.timeWindow / 1000} s); retry in ${seen.ttlInSeconds} s`,
          seen.ttlInSeconds,
          'E_AUTH_RATE_LIMIT',
        );
      }
    }
    try {
      keys.authorize(requestToken(req.headers), scope);
    } catch (e) {
      // 401 only: a 403 comes from a valid key, which guessing cannot produce.
      if (failures && e instanceof AuthError && e.status === 401) await failures(req);
      throw e;
    }
  };
}
