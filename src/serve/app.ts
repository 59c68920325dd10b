import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ChorusError } from '../errors.js';
import type { CatalogueKind, KeyScope } from '../store/types.js';
import { KeyRing, lookupId, requestToken } from './auth.js';
import { dashboardData } from './dashboard-data.js';
import { DASHBOARD_HTML } from './dashboard-html.js';
import type { Engine } from './engine.js';
import { RequestError } from './errors.js';
import { parseImport } from './import.js';
import { HttpMetrics } from './metrics.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import * as S from './schemas.js';

export interface ServerOptions {
  /** Largest accepted request body, bytes (default 1 MiB). */
  bodyLimit: number;
  /** Largest bulk-import body, bytes (default 32 MiB). */
  importBodyLimit: number;
  /** Requests per key (or per IP without a key) per window; false disables. */
  rateLimit: { max: number; windowMs: number } | false;
  /** Origins allowed by CORS; empty (the default) sends no CORS headers at all. */
  corsOrigins: string[];
  /** Fastify's request log (pino) on stdout. */
  logger: boolean;
}

export const SERVER_DEFAULTS: ServerOptions = {
  bodyLimit: 1 << 20,
  importBodyLimit: 32 << 20,
  rateLimit: { max: 60_000, windowMs: 60_000 },
  corsOrigins: [],
  logger: false,
};

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

interface RouteDef extends RouteDoc {
  handler: Handler;
  bodyLimit?: number;
  /**
   * Serialise the documented responses with Fastify's compiled serializer (fast-json-stringify)
   * instead of JSON.stringify: used on the hot routes, whose answers have a fixed shape.
   */
  compiledResponse?: boolean;
}

/** A response schema for Fastify's serializer (draft-7, which fast-json-stringify reads). */
function serializerSchema(s: z.ZodType): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'output', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const PERSONALIZER = '/personalizer/v1.0';

/** Personalizer's ErrorCode names for the statuses it documents. */
function personalizerCode(status: number): string {
  if (status === 404) return 'ResourceNotFound';
  if (status >= 500) return 'InternalServerError';
  return 'BadRequest';
}

function fastifyCode(code: string | undefined, status: number): string {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'E_BODY_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'E_MEDIA_TYPE';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'E_EMPTY_BODY';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'E_BAD_JSON';
    default:
      return status === 413 ? 'E_BODY_TOO_LARGE' : status === 429 ? 'E_RATE_LIMIT' : 'E_BAD_REQUEST';
  }
}

/** The HTTP front of an Engine. Routes are declared once (below) for both Fastify and OpenAPI. */
export async function buildServer(engine: Engine, keys: KeyRing, opts: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  const o: ServerOptions = { ...SERVER_DEFAULTS, ...opts };
  const app = Fastify({ logger: o.logger, bodyLimit: o.bodyLimit, return503OnClosing: true });
  const metrics = new HttpMetrics();
  const started = Date.now();

  // Bulk import bodies arrive as text; parsed (and validated line by line) by the route.
  for (const type of ['application/x-ndjson', 'application/jsonl', 'application/ndjson', 'text/csv']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => done(null, body));
  }

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    let status = 500;
    let code = 'E_INTERNAL';
    let message = 'internal server error';
    let field: string | undefined;
    if (err instanceof ChorusError) {
      status = err.status;
      code = err.code;
      message = err.message;
      field = err.location?.field;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      code = fastifyCode(err.code, status);
      message = err.message;
    }
    if (status >= 500) {
      // The details go to the server log, never to the client.
      req.log.error(err);
      if (!o.logger) process.stderr.write(`chorus serve: ${req.method} ${req.url}: ${err.stack ?? err.message}\n`);
      message = 'internal server error';
      field = undefined;
    }
    const body = req.url.startsWith(PERSONALIZER)
      ? { error: { code: personalizerCode(status), message, ...(field ? { target: field } : {}), innerError: { code } } }
      : { error: { code, message, ...(field ? { field } : {}) } };
    void reply.status(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'E_NO_ROUTE', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  if (o.rateLimit) {
    await app.register(rateLimit, {
      max: o.rateLimit.max,
      timeWindow: o.rateLimit.windowMs,
      keyGenerator: (req) => {
        const t = requestToken(req.headers);
        return t ? `key:${lookupId(t)}` : `ip:${req.ip}`;
      },
      errorResponseBuilder: (_req, ctx) => ({
        statusCode: 429,
        code: 'E_RATE_LIMIT',
        message: `rate limit exceeded (${ctx.max} requests per ${ctx.after}); retry later`,
      }),
    });
  }

  if (o.corsOrigins.length > 0) {
    const allowed = new Set(o.corsOrigins);
    app.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      if (origin && (allowed.has(origin) || allowed.has('*'))) {
        void reply.header('access-control-allow-origin', origin).header('vary', 'origin');
        if (req.method === 'OPTIONS') {
          void reply
            .header('access-control-allow-methods', 'GET,POST,PUT,DELETE')
            .header('access-control-allow-headers', 'authorization,content-type,x-api-key,ocp-apim-subscription-key')
            .status(204)
            .send();
        }
      }
    });
  }

  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  const routes: RouteDef[] = [];
  const def = (r: RouteDef) => routes.push(r);
  const body = <T extends z.ZodType>(schema: T, req: FastifyRequest): z.infer<T> => S.validate(schema, req.body ?? undefined);
  const params = <T extends z.ZodType>(schema: T, req: FastifyRequest): z.infer<T> => S.validate(schema, req.params);
  const query = <T extends z.ZodType>(schema: T, req: FastifyRequest): z.infer<T> => S.validate(schema, req.query ?? {});

  // ------------------------------------------------------------ service
  def({
    method: 'GET', url: '/healthz', scope: null, tag: 'service', summary: 'Liveness and a few counts',
    responses: { 200: { description: 'up', schema: z.object({ status: z.literal('ok'), snapshot: z.string(), uptimeSeconds: z.number() }) } },
    handler: async () => ({ status: 'ok', snapshot: engine.activeSnapshot.id, uptimeSeconds: (Date.now() - started) / 1000 }),
  });
  def({
    method: 'GET', url: '/openapi.json', scope: null, tag: 'service', summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1 document' } },
    handler: async () => openapi,
  });
  def({
    method: 'GET', url: '/metrics', scope: 'admin', tag: 'service', summary: 'Prometheus metrics (text format 0.0.4)',
    responses: { 200: { description: 'text/plain; version=0.0.4' } },
    handler: async (_req, reply) => {
      const c = engine.counters;
      const mem = process.memoryUsage();
      const text = metrics.render([
        { name: 'chorus_decisions_total', help: 'Logged decisions (recommend and rank).', type: 'counter', values: [{ value: c.decisions }] },
        {
          name: 'chorus_feedback_total', help: 'Accepted feedback events by type.', type: 'counter',
          values: Object.entries(c.feedback).map(([type, value]) => ({ labels: { type }, value })),
        },
        { name: 'chorus_reward_sum', help: 'Sum of rewards received.', type: 'counter', values: [{ value: c.rewardSum }] },
        { name: 'chorus_bandit_updates_total', help: 'Rewards the online bandit has learned from.', type: 'counter', values: [{ value: c.learned }] },
        { name: 'chorus_learn_queue_length', help: 'Rewards waiting for the background learner.', type: 'gauge', values: [{ value: engine.learnQueueLength }] },
        { name: 'chorus_reward_windows_open', help: 'Logged decisions still inside their reward wait.', type: 'gauge', values: [{ value: engine.openWindows }] },
        {
          name: 'chorus_default_rewards_total', help: 'Shown items learned with the default reward (no feedback within the reward wait).', type: 'counter',
          values: [{ value: engine.counters.defaultRewards }],
        },
        { name: 'chorus_learn_queue_capacity', help: 'Most rewards the learner queue holds (maxQueue).', type: 'gauge', values: [{ value: engine.config.maxQueue }] },
        {
          name: 'chorus_learn_queue_full_total', help: 'Times the learner queue was full and a request learned a batch synchronously.', type: 'counter',
          values: [{ value: c.learnQueueFull }],
        },
        {
          name: 'chorus_learn_errors_total',
          help: 'Errors caught in the learning loop by stage; stage="learn" counts failed (skipped) rewards.',
          type: 'counter',
          values: Object.entries(c.learnErrors).map(([stage, value]) => ({ labels: { stage }, value })),
        },
        { name: 'chorus_retrains_total', help: 'Background retrains finished.', type: 'counter', values: [{ value: c.retrains }] },
        { name: 'chorus_retrain_errors_total', help: 'Background retrains that failed.', type: 'counter', values: [{ value: c.retrainErrors }] },
        {
          name: 'chorus_pool_cache_total', help: 'Candidate-pool cache lookups by result.', type: 'counter',
          values: [{ labels: { result: 'hit' }, value: engine.poolStats.hits }, { labels: { result: 'miss' }, value: engine.poolStats.misses }],
        },
        { name: 'chorus_catalogue_items', help: 'Items in the catalogue.', type: 'gauge', values: [{ value: engine.catalogueSize('items') }] },
        { name: 'chorus_catalogue_users', help: 'Users in the catalogue.', type: 'gauge', values: [{ value: engine.catalogueSize('users') }] },
        {
          name: 'chorus_active_snapshot_info', help: 'The active model snapshot (value 1).', type: 'gauge',
          values: [{ labels: { id: engine.activeSnapshot.id, kind: engine.activeSnapshot.kind }, value: 1 }],
        },
        { name: 'chorus_recommender_weight', help: 'Learned weight of the recommender score in the bandit.', type: 'gauge', values: [{ value: engine.policy.weights().recommender }] },
        { name: 'process_resident_memory_bytes', help: 'Resident memory.', type: 'gauge', values: [{ value: mem.rss }] },
        { name: 'nodejs_heap_used_bytes', help: 'V8 heap in use.', type: 'gauge', values: [{ value: mem.heapUsed }] },
      ]);
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
    },
  });

  // ------------------------------------------------------------ recommend / feedback
  def({
    method: 'POST', url: '/recommend', scope: 'client', tag: 'recommend', summary: 'A slate for a user, logged with propensities',
    body: S.RecommendBody, responses: { 200: { description: 'the slate', schema: S.RecommendResponse } }, compiledResponse: true,
    handler: async (req) => engine.recommend(body(S.RecommendBody, req)),
  });
  def({
    method: 'POST', url: '/feedback', scope: 'client', tag: 'recommend', summary: 'What the user did with an item (committed before the answer)',
    body: S.FeedbackBody, responses: { 201: { description: 'stored', schema: S.FeedbackResponse } }, compiledResponse: true,
    handler: async (req, reply) => reply.status(201).send(await engine.feedback(body(S.FeedbackBody, req))),
  });

  // ------------------------------------------------------------ Personalizer-compatible
  def({
    method: 'POST', url: `${PERSONALIZER}/rank`, scope: 'client', tag: 'personalizer', summary: 'Azure Personalizer v1.0 Rank',
    body: S.RankBody, responses: { 201: { description: 'ranked', schema: S.RankResponse } },
    handler: async (req, reply) => reply.status(201).send(await engine.rank(body(S.RankBody, req))),
  });
  def({
    method: 'POST', url: `${PERSONALIZER}/events/:eventId/reward`, scope: 'client', tag: 'personalizer', summary: 'Azure Personalizer v1.0 Reward',
    params: S.EventParams, body: S.RewardBody, responses: { 204: { description: 'stored' } },
    handler: async (req, reply) => {
      const { eventId } = params(S.EventParams, req);
      await engine.reward(eventId, body(S.RewardBody, req).value);
      return reply.status(204).send();
    },
  });
  def({
    method: 'POST', url: `${PERSONALIZER}/events/:eventId/activate`, scope: 'client', tag: 'personalizer', summary: 'Azure Personalizer v1.0 Activate (for deferActivation)',
    params: S.EventParams, responses: { 204: { description: 'activated' } },
    handler: async (req, reply) => {
      await engine.activateEvent(params(S.EventParams, req).eventId);
      return reply.status(204).send();
    },
  });

  // ------------------------------------------------------------ catalogue
  for (const kind of ['items', 'users'] as CatalogueKind[]) {
    const one = kind === 'items' ? 'item' : 'user';
    const Full = kind === 'items' ? S.ItemBody : S.UserBody;
    const Patch = kind === 'items' ? S.ItemPatch : S.UserPatch;
    const metaOf = (v: Record<string, unknown>) => {
      const { id: _id, ...meta } = v;
      return meta;
    };
    def({
      method: 'GET', url: `/${kind}`, scope: 'client', tag: 'catalogue', summary: `List ${kind}`, query: S.ListQuery,
      responses: { 200: { description: kind, schema: S.EntryList } },
      handler: async (req) => {
        const q = query(S.ListQuery, req);
        return { total: engine.catalogueSize(kind), offset: q.offset, items: engine.listEntries(kind, q.offset, q.limit) };
      },
    });
    def({
      method: 'GET', url: `/${kind}/:id`, scope: 'client', tag: 'catalogue', summary: `One ${one}`, params: S.IdParams,
      responses: { 200: { description: one, schema: S.Entry } },
      handler: async (req) => {
        const { id } = params(S.IdParams, req);
        const meta = engine.getEntry(kind, id);
        if (!meta) throw new ChorusError('E_NOT_FOUND', `unknown ${one} "${id}"`, { status: 404, location: { field: 'id' } });
        return { id, meta };
      },
    });
    def({
      method: 'POST', url: `/${kind}`, scope: 'admin', tag: 'catalogue', summary: `Create an ${one} (409 if it exists)`, body: Full,
      responses: { 201: { description: 'created', schema: S.Entry } },
      handler: async (req, reply) => {
        const v = body(Full, req) as Record<string, unknown> & { id: string };
        await engine.putEntries(kind, [{ id: v.id, meta: metaOf(v) }], true);
        return reply.status(201).send({ id: v.id, meta: metaOf(v) });
      },
    });
    def({
      method: 'PUT', url: `/${kind}/:id`, scope: 'admin', tag: 'catalogue', summary: `Create or replace an ${one}`, params: S.IdParams, body: Patch,
      responses: { 200: { description: 'stored', schema: S.Entry } },
      handler: async (req) => {
        const { id } = params(S.IdParams, req);
        const meta = body(Patch, req) as Record<string, unknown>;
        await engine.putEntries(kind, [{ id, meta }]);
        return { id, meta };
      },
    });
    def({
      method: 'DELETE', url: `/${kind}/:id`, scope: 'admin', tag: 'catalogue', summary: `Delete an ${one}`, params: S.IdParams,
      responses: { 204: { description: 'deleted' } },
      handler: async (req, reply) => {
        await engine.deleteEntry(kind, params(S.IdParams, req).id);
        return reply.status(204).send();
      },
    });
    def({
      method: 'POST', url: `/${kind}/import`, scope: 'admin', tag: 'catalogue',
      summary: `Bulk import ${kind}: a JSON array, NDJSON (application/x-ndjson) or CSV (text/csv; tags and categories split on "|"); all or nothing`,
      body: z.array(Full), bodyLimit: o.importBodyLimit,
      responses: { 200: { description: 'imported', schema: S.ImportResult } },
      handler: async (req) => {
        const rows = parseImport(req.headers['content-type'] ?? '', req.body, Full);
        const r = await engine.putEntries(kind, rows.map((v) => ({ id: v.id, meta: metaOf(v) })));
        return { imported: rows.length, ...r };
      },
    });
  }

  // ------------------------------------------------------------ snapshots
  def({
    method: 'GET', url: '/snapshots', scope: 'admin', tag: 'snapshots', summary: 'Model snapshots and the active one',
    responses: { 200: { description: 'snapshots', schema: S.SnapshotList } },
    handler: async () => engine.listSnapshots(),
  });
  def({
    method: 'POST', url: '/snapshots', scope: 'admin', tag: 'snapshots',
    summary: 'New snapshot: retrain on base + online data ({retrain:true}) or save the active model; activated unless activate:false',
    body: S.SnapshotCreate, responses: { 201: { description: 'created', schema: S.SnapshotMeta } },
    handler: async (req, reply) => {
      const b = body(S.SnapshotCreate, req);
      const meta = b.retrain ? await engine.retrain(b.activate) : await engine.saveSnapshot();
      if (!b.retrain && b.activate) await engine.activateSnapshot(meta.id);
      return reply.status(201).send(meta);
    },
  });
  def({
    method: 'POST', url: '/snapshots/:id/activate', scope: 'admin', tag: 'snapshots', summary: 'Serve this snapshot', params: S.IdParams,
    responses: { 200: { description: 'now active', schema: S.SnapshotMeta } },
    handler: async (req) => engine.activateSnapshot(params(S.IdParams, req).id),
  });
  def({
    method: 'POST', url: '/snapshots/rollback', scope: 'admin', tag: 'snapshots', summary: 'Serve the snapshot that was active before this one',
    responses: { 200: { description: 'now active', schema: S.SnapshotMeta } },
    handler: async () => engine.rollback(),
  });

  // ------------------------------------------------------------ logged bandit feedback
  def({
    method: 'GET', url: '/events', scope: 'admin', tag: 'events',
    summary: 'Logged decisions (slate, per-position propensities, scores) with their feedback, oldest first, for off-policy evaluation; page with after=next',
    query: S.EventsQuery, responses: { 200: { description: 'a page of the log', schema: S.LoggedEvents } },
    handler: async (req) => {
      const q = query(S.EventsQuery, req);
      const ds = await engine.store.events.decisionsAfter(q.after, q.limit);
      const fb = await engine.store.events.feedbackFor(ds.map((d) => d.id));
      const byEvent = new Map<string, typeof fb>();
      for (const f of fb) {
        const list = byEvent.get(f.eventId!) ?? [];
        list.push(f);
        byEvent.set(f.eventId!, list);
      }
      return {
        events: ds.map((d) => ({
          seq: d.seq!,
          eventId: d.id,
          ts: d.ts,
          user: d.user,
          kind: d.kind,
          snapshot: d.snapshotId,
          activated: d.activated,
          items: d.items,
          propensities: d.propensities,
          scores: d.scores,
          feedback: (byEvent.get(d.id) ?? []).map((f) => ({ item: f.item, position: f.position, type: f.type, value: f.value, reward: f.reward, ts: f.ts })),
        })),
        next: ds.length === q.limit ? ds[ds.length - 1]!.seq! : null,
      };
    },
  });

  // ------------------------------------------------------------ keys
  def({
    method: 'GET', url: '/keys', scope: 'admin', tag: 'keys', summary: 'API keys (ids and scopes; secrets are never stored)',
    responses: { 200: { description: 'keys', schema: S.KeyList } },
    handler: async () => keys.list().map((k) => ({ id: k.id, scope: k.scope, name: k.name, created: k.created })),
  });
  def({
    method: 'POST', url: '/keys', scope: 'admin', tag: 'keys', summary: 'Issue a key (its secret is shown only in this answer)', body: S.KeyCreate,
    responses: { 201: { description: 'issued', schema: S.KeyCreated } },
    handler: async (req, reply) => {
      const b = body(S.KeyCreate, req);
      const { record, key } = await keys.issue(b.scope, b.name);
      return reply.status(201).send({ id: record.id, scope: record.scope, name: record.name, key });
    },
  });
  def({
    method: 'DELETE', url: '/keys/:id', scope: 'admin', tag: 'keys', summary: 'Revoke a key', params: S.IdParams,
    responses: { 204: { description: 'revoked' } },
    handler: async (req, reply) => {
      if (!(await keys.remove(params(S.IdParams, req).id))) throw new ChorusError('E_NOT_FOUND', 'unknown key', { status: 404, location: { field: 'id' } });
      return reply.status(204).send();
    },
  });

  // ------------------------------------------------------------ dashboard
  def({
    method: 'GET', url: '/dashboard', scope: null, tag: 'dashboard', summary: 'The dashboard page (it asks for an admin key, or reads #key=… from the URL)',
    responses: { 200: { description: 'text/html' } },
    handler: async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_HTML),
  });
  def({
    method: 'GET', url: '/dashboard/data', scope: 'admin', tag: 'dashboard', summary: 'Everything the dashboard draws', query: S.DashboardQuery,
    responses: { 200: { description: 'dashboard data' } },
    handler: async (req) => {
      const q = query(S.DashboardQuery, req);
      return dashboardData(engine, q.user, q.hours);
    },
  });

  const openapi = buildOpenApi(routes);
  for (const r of routes) {
    const scope: KeyScope | null = r.scope;
    app.route({
      method: r.method,
      url: r.url,
      ...(r.bodyLimit ? { bodyLimit: r.bodyLimit } : {}),
      ...(r.compiledResponse
        ? {
            schema: {
              response: Object.fromEntries(Object.entries(r.responses).flatMap(([status, x]) => (x.schema ? [[status, serializerSchema(x.schema)]] : []))),
            },
          }
        : {}),
      onRequest: scope
        ? async (req) => {
            keys.authorize(requestToken(req.headers), scope);
          }
        : undefined,
      handler: r.handler,
    });
  }
  return app;
}

