// Adjustments of the OpenAPI document that the route schemas themselves cannot carry (route-level
// swaggerTransform functions of @fastify/swagger).
import type { FastifySchema } from 'fastify';
import type { SwaggerTransform } from '@fastify/swagger';

interface BodyContent { content?: Record<string, { schema?: Record<string, unknown> }> }

/**
 * For a multipart body read in the handler. Fastify validates the (undefined) body of such a request
 * against the route schema, so the route cannot declare the form's fields there (Ajv rejects or warns
 * about an object schema for `undefined`); the document gets them here, so the docs UI shows a form with
 * a file picker (`format: binary`).
 */
export function multipartFormDoc(properties: Record<string, object>, required: string[]): SwaggerTransform {
  return ({ schema, url }) => {
    const body = schema.body as BodyContent | undefined;
    const form = body?.content?.['multipart/form-data'];
    if (!form) return { schema, url };
    const doc = { ...form.schema, type: 'object', properties, required };
    return { url, schema: { ...schema, body: { ...body, content: { ...body!.content, 'multipart/form-data': { ...form, schema: doc } } } } };
  };
}

/** A file field of a multipart form, as the document shows it. */
export const fileField = (description: string) => ({ type: 'string', format: 'binary', description });

/**
 * @fastify/websocket hides its routes from the document; the upgrade is still an HTTP GET with a query
 * worth documenting, so this puts it back with the given description (OpenAPI cannot describe the messages).
 */
export function websocketDoc(doc: FastifySchema & Record<string, unknown>): SwaggerTransform {
  return ({ schema, url }) => ({ url, schema: { ...schema, ...doc, hide: false } });
}
