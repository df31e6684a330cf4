// The detection response: one JSON Schema, from which its TypeScript type is derived. The server
// serializes and documents with the schema (/docs), the runtime and `pinhole detect --json` build the
// type; proto/pinhole.proto is the same answer as protobuf (server/frames.ts maps it field by field).
import type { FromSchema } from 'json-schema-to-ts';

const box = {
  type: 'object',
  description: 'pixels of the original image',
  additionalProperties: false,
  required: ['x1', 'y1', 'x2', 'y2'],
  properties: { x1: { type: 'number' }, y1: { type: 'number' }, x2: { type: 'number' }, y2: { type: 'number' } },
} as const;

export const detectionResponseSchema = {
  $id: 'DetectionResponse',
  type: 'object',
  additionalProperties: false,
  required: ['model', 'image', 'detections', 'timing_ms'],
  properties: {
    model: { type: 'string' },
    image: {
      type: 'object',
      additionalProperties: false,
      required: ['width', 'height'],
      properties: { width: { type: 'integer' }, height: { type: 'integer' } },
    },
    detections: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['class_id', 'class', 'score', 'box'],
        properties: {
          class_id: { type: 'integer' },
          class: { type: 'string' },
          score: { type: 'number' },
          box,
          path: { type: 'array', items: { type: 'string' }, description: 'yolo9000: WordTree path from the root, as names' },
        },
      },
    },
    timing_ms: {
      type: 'object',
      additionalProperties: false,
      required: ['decode', 'queue', 'infer', 'post'],
      properties: { decode: { type: 'number' }, queue: { type: 'number' }, infer: { type: 'number' }, post: { type: 'number' } },
    },
  },
} as const;

export type DetectionResponse = FromSchema<typeof detectionResponseSchema>;
export type Timing = DetectionResponse['timing_ms'];
