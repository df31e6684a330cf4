// Getting the image bytes out of a /v1/detect request: raw image body, multipart field `image`, or JSON
// {"image": base64}. Parsers are registered on the detect scope only, so other routes keep answering 415
// for image bodies.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { PinholeError } from '../errors.ts';

// Every format the decoder takes (src/runtime/preprocess.ts), so a correct Content-Type is never refused.
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif'] as const;
// curl --data-binary and many HTTP clients default to octet-stream; the decoder sniffs the format anyway.
export const RAW_TYPES = [...IMAGE_TYPES, 'application/octet-stream'];

export const ACCEPTED = `${IMAGE_TYPES.join(', ')}, multipart/form-data (field "image") or application/json {"image": "<base64>"}`;

export async function registerImageParsers(app: FastifyInstance, bodyLimit: number): Promise<void> {
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  // base64 in JSON is 4/3 of the image, plus the wrapping.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: Math.ceil((bodyLimit * 4) / 3) + 4096 },
    app.getDefaultJsonParser('error', 'error'));
  await app.register(multipart, {
    limits: { fileSize: bodyLimit, files: 1, fields: 8, parts: 9, fieldSize: 64 * 1024 },
    throwFileSizeLimit: true,
  });
}

// Base64 with optional data-URL prefix; whitespace tolerated (line-wrapped base64 is common).
const DATA_URL = /^data:[\w/+.-]+;base64,/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
const BASE64URL = /^[A-Za-z0-9_\s-]*$/;

function decodeBase64(s: string): Buffer {
  const body = s.replace(DATA_URL, '');
  if (BASE64.test(body)) return Buffer.from(body, 'base64');
  if (BASE64URL.test(body)) return Buffer.from(body, 'base64url');
  throw new PinholeError('bad_image', '"image" is not valid base64');
}

/** The image of a request and the other fields that came with it (multipart text fields, JSON properties). */
export interface ImageRequest {
  bytes: Uint8Array;
  /** everything but the image: multipart fields as strings, JSON properties as sent */
  fields: Record<string, unknown>;
}

export async function imageBytes(req: FastifyRequest, bodyLimit: number): Promise<Uint8Array> {
  return (await imageRequest(req, bodyLimit)).bytes;
}

export async function imageRequest(req: FastifyRequest, bodyLimit: number): Promise<ImageRequest> {
  let bytes: Uint8Array;
  let fields: Record<string, unknown> = {};
  if (req.isMultipart()) {
    ({ bytes, fields } = await multipartImage(req));
  } else if (Buffer.isBuffer(req.body)) {
    bytes = req.body;
  } else if (req.body && typeof req.body === 'object') {
    const { image: img, ...rest } = req.body as { image?: unknown };
    fields = rest;
    if (typeof img !== 'string') throw new PinholeError('bad_request', 'JSON body must be {"image": "<base64>"}');
    bytes = decodeBase64(img);
    if (bytes.length > bodyLimit) throw new PinholeError('too_large', `image is ${bytes.length} bytes, the limit is ${bodyLimit}`);
  } else {
    throw new PinholeError('unsupported_media_type', `send the image as ${ACCEPTED}`);
  }
  if (bytes.length === 0) throw new PinholeError('bad_image', 'the image is empty (0 bytes)');
  return { bytes, fields };
}

async function multipartImage(req: FastifyRequest): Promise<ImageRequest> {
  let found: Buffer | undefined;
  const fields: Record<string, string> = {};
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      // Every file stream must be consumed or busboy stalls.
      const buf = await part.toBuffer();
      if (part.fieldname !== 'image') throw new PinholeError('bad_request', `unexpected file field "${part.fieldname}": send the image as field "image"`);
      if (found) throw new PinholeError('bad_request', 'more than one file field "image"');
      found = buf;
    } else {
      if (part.fieldname === 'image') throw new PinholeError('bad_request', 'field "image" must be a file upload (e.g. curl -F image=@photo.jpg)');
      if (part.fieldname in fields) throw new PinholeError('bad_parameter', `form field "${part.fieldname}" given twice`);
      fields[part.fieldname] = String(part.value);
    }
  }
  if (!found) throw new PinholeError('bad_request', 'multipart body has no file field "image"');
  return { bytes: found, fields };
}
