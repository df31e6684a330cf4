// The naive peer of bench/peer.ts: what a first Fastify + onnxruntime-node + sharp server looks like.
// One InferenceSession on the main thread (ORT's default thread pool), session.run per request, no
// batching, no worker threads; sharp letterboxes the image; boxes decoded and NMS'd with the same pure
// decoder Pinhole uses (src/vision), so both servers do the same work per request and answer alike.
//
//   node --import tsx bench/peers/naive-server.ts MODEL_DIR   (PORT, default 8090; prints "listening" when up)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { validateManifest, type YoloV2Manifest } from '../../src/manifest.ts';
import { letterboxGeometry, postprocess } from '../../src/vision/index.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: naive-server.ts MODEL_DIR\n');
  process.exit(2);
}
const m = validateManifest(JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'))) as YoloV2Manifest;
const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
const { width: W, height: H } = m.input;

async function detect(bytes: Buffer) {
  const img = sharp(bytes);
  const meta = await img.metadata();
  const g = letterboxGeometry(meta.width, meta.height, W, H);
  const { data } = await img.resize(g.newW, g.newH, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const x = new Float32Array(3 * W * H).fill(0.5);
  for (let y = 0; y < g.newH; y++) {
    for (let xx = 0; xx < g.newW; xx++) {
      const s = (y * g.newW + xx) * 3, d = (y + g.dy) * W + xx + g.dx;
      for (let c = 0; c < 3; c++) x[c * W * H + d] = data[s + c] / 255;
    }
  }
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, H, W]) });
  const t = out[session.outputNames[0]];
  return postprocess(m.kind, m, t.data as Float32Array, t.dims, [{ width: meta.width, height: meta.height }])[0];
}

const app = Fastify({ bodyLimit: 16 << 20 });
app.addContentTypeParser(/^image\//, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/v1/detect', async (req, reply) => {
  try {
    return { model: m.name, detections: await detect(req.body as Buffer) };
  } catch (e) {
    return reply.code(400).send({ error: { code: 'bad_image', message: (e as Error).message } });
  }
});
await app.listen({ port: Number(process.env.PORT ?? 8090), host: '127.0.0.1' });
process.stdout.write('listening\n');
