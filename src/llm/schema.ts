/**
 * A validator for the JSON Schema subset in `JSONSchema` (type, properties, required,
 * additionalProperties, items, min/maxItems, enum, minimum/maximum, maxLength). Written here
 * rather than imported: ajv reaches node_modules only as fastify's dependency, not ours, and the
 * answers we check use these few keywords. It returns the first violation with its JSON path, so
 * an error can name the field.
 */
import type { JSONSchema } from './types.js';

export interface SchemaViolation {
  /** JSON path of the offending value, e.g. "$.ratings.42". */
  path: string;
  message: string;
}

export function validateSchema(value: unknown, schema: JSONSchema, path = '$'): SchemaViolation | null {
  if (schema.enum && !schema.enum.some((e) => e === value)) return { path, message: `must be one of ${JSON.stringify(schema.enum)}` };
  switch (schema.type) {
    case undefined:
      break;
    case 'null':
      if (value !== null) return { path, message: 'must be null' };
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return { path, message: 'must be a boolean' };
      break;
    case 'string':
      if (typeof value !== 'string') return { path, message: 'must be a string' };
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return { path, message: `must be at most ${schema.maxLength} characters` };
      break;
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return { path, message: 'must be a finite number' };
      if (schema.type === 'integer' && !Number.isInteger(value)) return { path, message: 'must be an integer' };
      if (schema.minimum !== undefined && value < schema.minimum) return { path, message: `must be ≥ ${schema.minimum}` };
      if (schema.maximum !== undefined && value > schema.maximum) return { path, message: `must be ≤ ${schema.maximum}` };
      break;
    }
    case 'array': {
      if (!Array.isArray(value)) return { path, message: 'must be an array' };
      if (schema.minItems !== undefined && value.length < schema.minItems) return { path, message: `must have at least ${schema.minItems} items` };
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return { path, message: `must have at most ${schema.maxItems} items` };
      if (schema.items) {
        for (let k = 0; k < value.length; k++) {
          const v = validateSchema(value[k], schema.items, `${path}[${k}]`);
          if (v) return v;
        }
      }
      break;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path, message: 'must be an object' };
      const obj = value as Record<string, unknown>;
      for (const key of schema.required ?? []) if (!(key in obj)) return { path: `${path}.${key}`, message: 'is required' };
      const props = schema.properties ?? {};
      for (const [key, v] of Object.entries(obj)) {
        const sub = props[key];
        if (sub) {
          const bad = validateSchema(v, sub, `${path}.${key}`);
          if (bad) return bad;
        } else if (schema.additionalProperties === false) {
          return { path: `${path}.${key}`, message: 'is not allowed' };
        } else if (typeof schema.additionalProperties === 'object') {
          const bad = validateSchema(v, schema.additionalProperties, `${path}.${key}`);
          if (bad) return bad;
        }
      }
      break;
    }
  }
  return null;
}
