// POST /v1/detect?render=1: the answer is the input image with its detections drawn (src/runtime/annotate.ts)
// instead of JSON. Format: the first of image/png, image/jpeg the Accept header names, else the input's
// (PNG stays PNG, anything else becomes JPEG). The detection response still travels, compact, in headers.
import type { FastifyReply } from 'fastify';
import { annotate, formatOf, pickFormat } from '../runtime/annotate.ts';
import type { DetectionResponse } from '../runtime/types.ts';

export const RENDER_QUERY = {
  type: 'string',
  enum: ['1', 'true', '0', 'false'],
  description: 'true/1: answer the image with boxes, labels and scores drawn (image/png or image/jpeg: the Accept header, else the input\'s format) instead of JSON',
} as const;

export type RenderFlag = '1' | 'true' | '0' | 'false';

export function wantsRender(flag: RenderFlag | undefined): boolean {
  return flag === '1' || flag === 'true';
}

export async function sendAnnotated(reply: FastifyReply, image: Uint8Array, r: DetectionResponse, accept: string | undefined): Promise<FastifyReply> {
  const format = pickFormat(accept, await formatOf(image));
  const body = await annotate(image, r.detections, format);
  return reply
    .type(format === 'png' ? 'image/png' : 'image/jpeg')
    .header('x-detections', String(r.detections.length))
    .header('x-timing-ms', JSON.stringify(r.timing_ms))
    .send(body);
}
