import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ChorusError } from '../errors.js';
import type { CatalogueKind, KeyScope } from '../store/types.js';
import type { KeyRing } from './auth.js';
import { dashboardData } from './dashboard-data.js';
import { CHART_JS_PATH, DASHBOARD_HTML, chartJsSource } from './dashboard-html.js';
import { installEdge, sendError, type EdgeOptions } from './edge.js';
import type { Engine } from './engine.js';
import { PERSONALIZER_PREFIX as PERSONALIZER, RequestError } from './errors.js';
import { parseImport } from './import.js';
import { ActivationRefusedError } from './snapshot-evaluation.js';
import { ServerMetrics } from './metrics.js';
import { NO_VALIDATION, routeSchema, SWAGGER_OPTIONS, type RouteDoc } from './openapi.js';
import * as S from './schemas.js';

export interface ServerOptions extends EdgeOptions {
  /** Largest accepted request body, bytes (default 1 MiB). */
  bodyLimit: number;
  /** Largest bulk-import body, bytes (default 32 MiB). */
  importBodyLimit: number;
  /** Fastify's request log (pino) on stdout. */
  logger: boolean;
}

export const SERVER_DEFAULTS: ServerOptions = {
  bodyLimit: 1 << 20,
  importBodyLimit: 32 << 20,
  rateLimit: { max: 60_000, windowMs: 60_000 },
  // A client with a wrong key gets 60 tries a minute: plenty to notice, far too few to guess.
  authFailureLimit: { max: 60, windowMs: 60_000 },
  corsOrigins: [],
  logger: false,
};

/**
 * Longest raw path parameter. An id may have MAX_ID_LENGTH characters, and percent-encoding
 * writes one UTF-16 character as up to 9 (`%E2%82%AC`): longer is refused by the router (414)
 * before the schema could name the field; anything within reaches the schema check.
 */
export const MAX_PARAM_LENGTH = S.MAX_ID_LENGTH * 9;

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

/** Routes without `compiledResponse` send what the handler returns, as JSON.stringify writes it. */
const PLAIN_JSON = () => (data: unknown) => JSON.stringify(data);

/** The HTTP front of an Engine. Routes are declared once (below) for both Fastify and OpenAPI. */
export async function buildServer(engine: Engine, keys: KeyRing, opts: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  const o: ServerOptions = { ...SERVER_DEFAULTS, ...opts };
  const app = Fastify({
    logger: o.logger,
    bodyLimit: o.bodyLimit,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Bad percent-encoding and over-long parameters, which Fastify answers before routing.
    frameworkErrors: (err, req, reply) => sendError(err, req, reply, o.logger),
  });
  const metrics = new ServerMetrics(engine);
  const started = Date.now();

  // Bulk import bodies reach the import routes as the request stream, read and validated as they
  // arrive (./import.ts counts them against importBodyLimit); no other route takes them.
  for (const type of ['application/x-ndjson', 'application/jsonl', 'application/ndjson', 'text/csv']) {
    app.addContentTypeParser(type, (req, payload, done) => {
      if (req.routeOptions.url?.endsWith('/import')) done(null, payload);
      else done(new RequestError(`"${type}" bodies are accepted only by the import routes`, '', 'E_MEDIA_TYPE', 415), undefined);
    });
  }
  const authorize = await installEdge(app, keys, o);
  app.setValidatorCompiler(NO_VALIDATION);
  // Before the routes: the plugin collects them as they are added.
  await app.register(swagger, SWAGGER_OPTIONS);

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
    responses: {
      200: {
        description: 'up',
        schema: z.object({
          status: z.literal('ok'),
          snapshot: z.string(),
          uptimeSeconds: z.number(),
          role: z.enum(['both', 'server', 'learner']),
          /** Cluster roles: the time of the learner's policy checkpoint this process serves (or wrote), unix ms. */
          checkpointAt: z.number().optional(),
        }),
      },
    },
    handler: async () => {
      const c = engine.cluster;
      return { status: 'ok' as const, snapshot: engine.activeSnapshot.id, uptimeSeconds: (Date.now() - started) / 1000, role: c.role, ...(c.version ? { checkpointAt: c.version.checkpointAt } : {}) };
    },
  });
  def({
    method: 'GET', url: '/openapi.json', scope: null, tag: 'service', summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1 document', type: 'application/json' } },
    handler: async () => app.swagger(),
  });
  def({
    method: 'GET', url: '/metrics', scope: 'admin', tag: 'service', summary: 'Prometheus metrics (text format 0.0.4)',
    responses: { 200: { description: 'Prometheus text format 0.0.4', type: 'text/plain' } },
    handler: async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()),
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
    if (kind === 'items') {
      def({
        method: 'DELETE', url: `/${kind}/:id`, scope: 'admin', tag: 'catalogue', summary: `Delete an ${one}`, params: S.IdParams,
        responses: { 204: { description: 'deleted' } },
        handler: async (req, reply) => {
          await engine.deleteEntry(kind, params(S.IdParams, req).id);
          return reply.status(204).send();
        },
      });
    } else {
      def({
        method: 'DELETE', url: '/users/:id', scope: 'admin', tag: 'catalogue',
        summary:
          "Erase a user: their decisions, feedback, catalogue row, online history, caches, session state and row in every stored snapshot, in one transaction before the answer (docs/privacy.md says what is not removed). Answers the audit record (counts only); 404 when nothing held the user",
        params: S.IdParams, responses: { 200: { description: 'erased', schema: S.ErasureResponse }, 404: { description: 'nothing held this user' } },
        handler: async (req) => {
          const { id } = params(S.IdParams, req);
          const record = await engine.eraseUser(id);
          if (!record) throw new ChorusError('E_NOT_FOUND', `unknown user "${id}": nothing to erase`, { status: 404, location: { field: 'id' } });
          return { erasure: record };
        },
      });
    }
    def({
      method: 'POST', url: `/${kind}/import`, scope: 'admin', tag: 'catalogue',
      summary: `Bulk import ${kind}: a JSON array, NDJSON (application/x-ndjson) or CSV (text/csv; tags and categories split on "|"); every row is validated before any is written, then committed 2,000 at a time`,
      body: z.array(Full), bodyLimit: o.importBodyLimit,
      responses: { 200: { description: 'imported', schema: S.ImportResult } },
      handler: async (req) => {
        const length = req.headers['content-length'];
        const rows = await parseImport(req.headers['content-type'] ?? '', req.body, Full, {
          maxBytes: o.importBodyLimit,
          declaredBytes: length === undefined ? undefined : Number(length),
        });
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
  /**
   * A refusal of the activation gate answers 409 with the evaluation beside the error, so the
   * caller sees why (and the refused snapshot, which stays stored and inactive).
   */
  const refused = (e: unknown, reply: FastifyReply) => {
    if (!(e instanceof ActivationRefusedError)) throw e;
    return reply.status(409).send({ error: { code: e.code, message: e.message, field: 'gate' }, snapshot: e.snapshot, evaluation: e.evaluation });
  };
  const gateDoc = { description: "the activation gate refused it: the 95 % lower bound of DR(candidate ranking) − DR(active ranking) does not exceed 0", schema: S.ActivationRefused };
  def({
    method: 'POST', url: '/snapshots', scope: 'admin', tag: 'snapshots',
    summary:
      'New snapshot: retrain on base + online data ({retrain:true}) or save the active model; activated unless activate:false. With the activation gate on, a retrained snapshot is activated only if it passes (409 otherwise: stored, not active)',
    body: S.SnapshotCreate, responses: { 201: { description: 'created', schema: S.SnapshotMeta }, 409: gateDoc },
    handler: async (req, reply) => {
      const { retrain, activate, ...gate } = body(S.SnapshotCreate, req);
      if (!retrain) {
        // A copy of the served model: serving it changes nothing the gate could judge.
        const meta = await engine.saveSnapshot();
        if (activate) await engine.activateSnapshot(meta.id, { gate: 'none' });
        return reply.status(201).send(meta);
      }
      try {
        return reply.status(201).send(await engine.retrain(activate, gate));
      } catch (e) {
        return refused(e, reply);
      }
    },
  });
  def({
    method: 'POST', url: '/snapshots/:id/evaluate', scope: 'admin', tag: 'snapshots',
    summary:
      "Off-policy estimates of this snapshot's recommender ranking (softened by epsilon) on the live decision log (decisions whose reward window has closed), without serving it; the active policy's value; and the DR activation gate's paired difference and verdict",
    params: S.IdParams, body: S.SnapshotEvaluateBody,
    responses: { 200: { description: 'the evaluation', schema: S.SnapshotEvaluation }, 404: { description: 'unknown snapshot' }, 409: { description: 'no usable logged decisions in the window' } },
    // Every field has a default, so a POST without a body is an evaluation with the defaults.
    handler: async (req) => engine.evaluateSnapshot(params(S.IdParams, req).id, body(S.SnapshotEvaluateBody.optional(), req) ?? {}),
  });
  def({
    method: 'POST', url: '/snapshots/:id/activate', scope: 'admin', tag: 'snapshots',
    summary: "Serve this snapshot; with gate 'dr' (or the server's --activation-gate dr) only if the 95 % lower bound of DR(its ranking) − DR(the active ranking) exceeds 0",
    params: S.IdParams, body: S.SnapshotActivateBody,
    responses: { 200: { description: 'now active', schema: S.SnapshotMeta }, 409: gateDoc },
    handler: async (req, reply) => {
      const id = params(S.IdParams, req).id;
      const gate = body(S.SnapshotActivateBody.optional(), req) ?? {};
      try {
        return reply.status(200).send(await engine.activateSnapshot(id, gate));
      } catch (e) {
        return refused(e, reply);
      }
    },
  });
  def({
    method: 'POST', url: '/snapshots/rollback', scope: 'admin', tag: 'snapshots', summary: 'Serve the snapshot that was active before this one',
    responses: { 200: { description: 'now active', schema: S.SnapshotMeta } },
    handler: async () => engine.rollback(),
  });
  def({
    method: 'DELETE', url: '/snapshots/:id', scope: 'admin', tag: 'snapshots', summary: 'Delete a snapshot (not the active one: 409)', params: S.IdParams,
    responses: { 204: { description: 'deleted' } },
    handler: async (req, reply) => {
      await engine.deleteSnapshot(params(S.IdParams, req).id);
      return reply.status(204).send();
    },
  });

  // ------------------------------------------------------------ logged bandit feedback
  def({
    method: 'GET', url: '/events', scope: 'admin', tag: 'events',
    summary:
      'Logged decisions (slate, per-position propensities, scores) with their feedback, oldest first, for off-policy evaluation; page with after=next. `user` is the id as stored: its pseudonym when the server runs with --pseudonymise',
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

  def({
    method: 'GET', url: '/erasures', scope: 'admin', tag: 'events', summary: 'The erasure audit, most recent first: id, time and counts of what was removed (never a user id)',
    query: S.ErasuresQuery, responses: { 200: { description: 'audit records', schema: S.ErasureList } },
    handler: async (req) => ({ erasures: await engine.erasures(query(S.ErasuresQuery, req).limit) }),
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
    responses: { 200: { description: 'the page', type: 'text/html' } },
    handler: async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_HTML),
  });
  def({
    method: 'GET', url: CHART_JS_PATH, scope: null, tag: 'dashboard', summary: 'Chart.js 4, which the dashboard draws with (from the installed package: the page needs no network)',
    responses: { 200: { description: 'the script', type: 'application/javascript' } },
    handler: async (_req, reply) => reply.type('application/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').send(chartJsSource()),
  });
  def({
    method: 'GET', url: '/dashboard/data', scope: 'admin', tag: 'dashboard', summary: 'Everything the dashboard draws', query: S.DashboardQuery,
    responses: { 200: { description: 'dashboard data' } },
    handler: async (req) => {
      const q = query(S.DashboardQuery, req);
      return dashboardData(engine, q.user, q.hours);
    },
  });

  for (const r of routes) {
    const scope: KeyScope | null = r.scope;
    app.route({
      method: r.method,
      url: r.url,
      ...(r.bodyLimit ? { bodyLimit: r.bodyLimit } : {}),
      schema: routeSchema(r),
      ...(r.compiledResponse ? {} : { serializerCompiler: PLAIN_JSON }),
      onRequest: scope ? authorize(scope) : undefined,
      handler: r.handler,
    });
  }
  return app;
}

