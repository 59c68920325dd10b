import { z } from 'zod';
import type { KeyScope } from '../store/types.js';
import { ErrorBody } from './schemas.js';

/** One route as documented: the same table the server registers its routes from. */
export interface RouteDoc {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** Key scope required; null for public routes. */
  scope: KeyScope | null;
  tag: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
}

function schema(s: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(s, { io, unrepresentable: 'any' });
}

/** OpenAPI 3.1 (whose schemas are JSON Schema 2020-12, what zod 4 emits). */
export function buildOpenApi(routes: readonly RouteDoc[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const m of path.matchAll(/\{([A-Za-z]+)\}/g)) parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    if (r.query) {
      const js = schema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: 'query', required: js.required?.includes(name) ?? false, schema: s });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = res.schema
        ? { description: res.description, content: { 'application/json': { schema: schema(res.schema, 'output') } } }
        : { description: res.description };
    }
    const err = { description: 'error', content: { 'application/json': { schema: schema(ErrorBody, 'output') } } };
    responses['4XX'] = err;
    const op: Record<string, unknown> = { tags: [r.tag], summary: r.summary, operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+/g, '_')}`, responses };
    if (parameters.length) op.parameters = parameters;
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } };
    if (r.scope) op.security = [{ bearer: [] }, { apiKey: [] }, { personalizerKey: [] }];
    if (r.scope) op['x-chorus-scope'] = r.scope;
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Chorus server',
      version: '1',
      description:
        'Recommendations with online learning. Client-scope keys may recommend, send feedback, rank/reward and read the catalogue; admin keys may do everything.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        personalizerKey: { type: 'apiKey', in: 'header', name: 'Ocp-Apim-Subscription-Key' },
      },
    },
    paths,
  };
}
