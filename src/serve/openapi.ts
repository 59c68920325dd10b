import type { SwaggerOptions } from '@fastify/swagger';
import { z } from 'zod';
import type { KeyScope } from '../store/types.js';
import { ErrorBody } from './schemas.js';

/**
 * Route schemas for Fastify, generated from the zod schemas in ./schemas.ts (the one source):
 * @fastify/swagger builds /openapi.json from them, and the hot routes' serializer reads their
 * response schemas. Request validation stays with zod in the handlers (`validate` names the
 * field the Chorus way), so Fastify's own validator is switched off (`NO_VALIDATION`).
 */

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
  /**
   * A response without `schema` is documented by its media `type`: any JSON when none is given,
   * and no content at all for a 204.
   */
  responses: Record<number, { description: string; schema?: z.ZodType; type?: string }>;
}

/**
 * JSON Schema of a zod schema, inline (no `$schema`). Responses use draft-7, which Fastify's
 * serializer (fast-json-stringify) reads; requests use 2020-12, OpenAPI 3.1's own dialect. For
 * these schemas (no tuples, no recursion) the two differ in nothing but the `$schema` line.
 */
export function jsonSchema(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const target = io === 'output' ? 'draft-7' : 'draft-2020-12';
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, target, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const SECURITY = [{ bearer: [] }, { apiKey: [] }, { personalizerKey: [] }];

/** The Fastify `schema` of a route: documentation, plus the response shapes for the serializer. */
export function routeSchema(r: RouteDoc): Record<string, unknown> {
  const response: Record<string, unknown> = {};
  for (const [status, res] of Object.entries(r.responses)) {
    if (res.schema) response[status] = { ...jsonSchema(res.schema, 'output'), description: res.description };
    else if (status === '204') response[status] = { description: res.description, type: 'null' };
    else response[status] = { description: res.description, content: { [res.type ?? 'application/json']: { schema: {} } } };
  }
  response['4xx'] = { ...jsonSchema(ErrorBody, 'output'), description: 'error: Chorus shape, or Personalizer shape under /personalizer' };
  const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
  return {
    tags: [r.tag],
    summary: r.summary,
    operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+/g, '_')}`,
    ...(r.body ? { body: jsonSchema(r.body, 'input') } : {}),
    ...(r.query ? { querystring: jsonSchema(r.query, 'input') } : {}),
    ...(r.params ? { params: jsonSchema(r.params, 'input') } : {}),
    ...(r.scope ? { security: SECURITY, 'x-chorus-scope': r.scope } : {}),
    response,
  };
}

/** @fastify/swagger's settings: an OpenAPI 3.1 document with Chorus's three ways to send a key. */
export const SWAGGER_OPTIONS: SwaggerOptions = {
  openapi: {
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
  },
};

/** Fastify validator compiler that accepts everything: zod validates in the handlers. */
export const NO_VALIDATION = () => (data: unknown) => ({ value: data });
