// /v1/stream: newest-wins scheduling and drop counting (StreamSession with a scripted detect and sink),
// then over a real WebSocket on 127.0.0.1:0 (JSON and protobuf) with the stand-in runtime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildApp } from '../src/server/app.ts';
import { decodeResult, encodeFrame } from '../src/server/frames.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import { createMetrics, type ServerMetrics, type StreamOutcome } from '../src/server/metrics.ts';
import { StreamSession, type StreamSink } from '../src/server/stream-session.ts';
import { StreamTurns } from '../src/server/stream-turns.ts';
import type { DetectionResponse } from '../src/runtime/types.ts';
import { FakeRuntime, metricSum, parseMetrics, pngBytes } from './server-fakes.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function response(width: number): DetectionResponse {
  return { model: 'm', image: { width, height: 1 }, detections: [], timing_ms: { decode: 0, queue: 0, infer: 0, post: 0 } };
}

/** A session whose detect calls wait until the test resolves them, in order. */
function scripted(maxBuffered = 1000, turns?: StreamTurns) {
  const sent: Array<Record<string, unknown>> = [];
  const sink: StreamSink & { bufferedAmount: number; open: boolean } = {
    bufferedAmount: 0,
    open: true,
    send(d) { sent.push(JSON.parse(String(d))); },
  };
  const started: Array<{ width: number; finish: () => void; fail: (e: Error) => void }> = [];
  const outcomes: StreamOutcome[] = [];
  const session = new StreamSession({
    sink,
    // the "image" is a PNG whose width tells the frames apart
    detect: (f) => new Promise((resolve, reject) => {
      const width = Buffer.from(f.image).readUInt32BE(16);
      started.push({ width, finish: () => resolve(response(width)), fail: reject });
    }),
    encode: (r) => JSON.stringify(r),
    onOutcome: (o) => outcomes.push(o),
    maxBuffered,
    pollMs: 1,
    turns,
  });
  return { session, sink, sent, started, outcomes };
}

let frames: Buffer[];
beforeAll(async () => {
  frames = await Promise.all(Array.from({ length: 8 }, (_, i) => pngBytes(i + 1, 1)));
});

describe('StreamSession', () => {
  it('processes one frame at a time; while busy only the newest frame waits, the others count as dropped', async () => {
    const { session, sent, started, outcomes } = scripted();
    session.push(frames[0]);
    await tick();
    expect(started.map((s) => s.width)).toEqual([1]);
    for (const f of frames.slice(1, 5)) session.push(f); // frames 2..5 arrive during frame 1
    await tick();
    expect(started.length).toBe(1);
    expect(session.dropped).toBe(3);
    started[0].finish();
    await tick(5);
    expect(started.map((s) => s.width)).toEqual([1, 5]); // 5 is the newest: 2, 3, 4 were dropped
    session.push(frames[5]);
    session.push(frames[6]);
    started[1].finish();
    await tick(5);
    started[2].finish();
    await session.idle();
    expect(started.map((s) => s.width)).toEqual([1, 5, 7]);
    expect(sent.map((r) => [r.frame, (r.response as DetectionResponse).image.width, r.dropped])).toEqual([
      [1, 1, 3], // the count when the result goes out
      [5, 5, 4], // 6 was replaced by 7 while 5 ran
      [7, 7, 4],
    ]);
    expect(outcomes.filter((o) => o === 'processed').length).toBe(3);
    expect(outcomes.filter((o) => o === 'dropped').length).toBe(4);
    expect(session.received).toBe(7);
  });

  it('does not start the next frame while the socket holds more than maxBuffered bytes; newest still wins', async () => {
    const { session, sink, sent, started } = scripted(100);
    session.push(frames[0]);
    await tick();
    sink.bufferedAmount = 5000; // the client is not reading
    started[0].finish();
    await tick(5);
    expect(sent.length).toBe(1);
    session.push(frames[1]);
    session.push(frames[2]);
    await tick(20);
    expect(started.length).toBe(1); // waiting for the socket to drain
    session.push(frames[3]);
    sink.bufferedAmount = 50;
    await tick(10);
    expect(started.map((s) => s.width)).toEqual([1, 4]);
    started[1].finish();
    await session.idle();
    expect(sent.at(-1)).toMatchObject({ frame: 4, dropped: 2 });
  });

  it('answers a bad frame or a failed detection with an error result and keeps going', async () => {
    const { session, sent, started, outcomes } = scripted();
    session.push(Buffer.from('definitely not an image'));
    await session.idle();
    expect(sent[0]).toMatchObject({ frame: 1, error: { code: 'bad_image' } });
    session.reject('text frames are not accepted');
    await session.idle();
    expect(sent[1]).toMatchObject({ frame: 2, error: { code: 'bad_request', message: 'text frames are not accepted' } });
    session.push(frames[0]);
    await tick();
    started[0].fail(new Error('worker exploded at /secret/path'));
    await session.idle();
    expect(sent[2]).toMatchObject({ frame: 3, error: { code: 'internal', message: 'internal server error' } });
    session.push(frames[1]);
    await tick();
    started[1].finish();
    await session.idle();
    expect(sent[3]).toMatchObject({ frame: 4, dropped: 0 });
    expect(outcomes).toEqual(['error', 'error', 'error', 'processed']);
  });

  it('a frame arriving in the same tick as a frame that failed synchronously is still processed', async () => {
    const { session, sent, started } = scripted();
    session.reject('text');
    session.push(frames[2]);
    await tick();
    expect(started.map((s) => s.width)).toEqual([3]);
    started[0].finish();
    await session.idle();
    expect(sent.map((r) => r.frame)).toEqual([1, 2]);
  });

  it('on close the waiting frame counts as dropped and nothing more is sent', async () => {
    const { session, sent, started, outcomes } = scripted();
    session.push(frames[0]);
    session.push(frames[1]);
    await tick();
    session.close();
    started[0].finish();
    await session.idle();
    session.push(frames[2]);
    await session.idle();
    expect(sent).toEqual([]);
    expect(started.length).toBe(1);
    expect(outcomes).toEqual(['dropped', 'processed']);
  });
});

describe('StreamTurns: streams take turns for the runtime', () => {
  it('grants up to `slots` at once, the rest in the order asked; a cancelled request never gets one', async () => {
    const turns = new StreamTurns(2);
    const [a, b, c, d] = [turns.take(), turns.take(), turns.take(), turns.take()];
    expect([a.now, b.now, c.now, d.now]).toEqual([true, true, false, false]);
    expect(turns.inFlight).toBe(2);
    const order: string[] = [];
    void c.granted.then((g) => order.push(`c ${g}`));
    void d.granted.then((g) => order.push(`d ${g}`));
    c.cancel();
    await tick();
    expect(order).toEqual(['c false']);
    turns.release();
    await tick();
    expect(order).toEqual(['c false', 'd true']);
    expect(turns.inFlight).toBe(2);
    turns.release();
    turns.release();
    expect(turns.inFlight).toBe(0);
    expect(turns.take().now).toBe(true);
    expect(() => new StreamTurns(0)).toThrow(/slots/);
  });

  /** Three scripted streams taking turns, one frame pushed into each (frames 0, 1, 2), a tick later. */
  async function threeStreams(turns: StreamTurns) {
    const streams = [scripted(1000, turns), scripted(1000, turns), scripted(1000, turns)];
    streams.forEach((st, i) => st.session.push(frames[i]));
    await tick();
    return streams;
  }

  it('round robin over streams, each taking its newest frame when its turn comes; the replaced ones count as dropped', async () => {
    const turns = new StreamTurns(1);
    const [a, b, c] = await threeStreams(turns);
    expect([a.started.length, b.started.length, c.started.length]).toEqual([1, 0, 0]);
    // while a's frame runs, b and c wait for their turns and keep receiving: only their newest is kept
    b.session.push(frames[3]);
    c.session.push(frames[4]);
    c.session.push(frames[5]);
    a.session.push(frames[6]);
    a.started[0].finish();
    await tick(5);
    expect(b.started.map((s) => s.width)).toEqual([4]);
    expect(c.started.length).toBe(0);
    // a asked again after b and c: it goes after them
    b.started[0].finish();
    await tick(5);
    expect(c.started.map((s) => s.width)).toEqual([6]);
    expect(a.started.length).toBe(1);
    c.started[0].finish();
    await tick(5);
    expect(a.started.map((s) => s.width)).toEqual([1, 7]);
    a.started[1].finish();
    await Promise.all([a.session.idle(), b.session.idle(), c.session.idle()]);
    expect([a.session.dropped, b.session.dropped, c.session.dropped]).toEqual([0, 1, 2]);
    expect(c.sent.map((r) => [r.frame, r.dropped])).toEqual([[3, 2]]);
    expect(turns.inFlight).toBe(0);
  });

  it('a stream closed while waiting for its turn gives it up; one closed while its frame runs gives the slot back', async () => {
    const turns = new StreamTurns(1);
    const [a, b, c] = await threeStreams(turns);
    b.session.close();
    a.session.close();
    a.started[0].finish();
    await tick(5);
    // b never ran; c got the slot a gave back
    expect(b.started.length).toBe(0);
    expect(c.started.map((s) => s.width)).toEqual([3]);
    expect(a.sent).toEqual([]);
    c.started[0].finish();
    await c.session.idle();
    expect(turns.inFlight).toBe(0);
    expect(turns.queued).toBe(0);
  });
});

describe('GET /v1/stream over a real socket', () => {
  let rt: FakeRuntime;
  let server: RunningServer;
  let metrics: ServerMetrics;
  let wsUrl: string;

  beforeAll(async () => {
    rt = new FakeRuntime();
    metrics = createMetrics();
    const app = await buildApp({ runtime: rt, metrics, bodyLimit: 1024 * 1024 });
    server = await startServer({ app, runtime: rt, host: '127.0.0.1', port: 0 });
    wsUrl = server.url.replace('http', 'ws');
  });
  afterAll(async () => { await server.close(); });

  function connect(query: string): Promise<{ ws: WebSocket; messages: Array<{ data: Buffer; binary: boolean }> }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}/v1/stream${query}`);
      const messages: Array<{ data: Buffer; binary: boolean }> = [];
      ws.on('message', (data, binary) => messages.push({ data: data as Buffer, binary }));
      ws.on('open', () => resolve({ ws, messages }));
      ws.on('error', reject);
    });
  }

  async function until(cond: () => boolean, ms = 5000) {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error('timed out waiting');
      await tick(5);
    }
  }

  it('newest wins under overload: JSON results carry the frame index and the dropped count; metrics count both', async () => {
    const before = parseMetrics(await metrics.registry.metrics());
    const { ws, messages } = await connect('?model=det&thresh=0.4');
    const release = rt.hold();
    ws.send(frames[0]);
    await until(() => rt.calls.length > 0 && rt.calls.at(-1)!.bytes === frames[0].length);
    for (const f of frames.slice(1, 6)) ws.send(f);
    await tick(100);
    release();
    await until(() => messages.length >= 2);
    await tick(100);
    expect(messages.length).toBe(2);
    const results = messages.map((m) => JSON.parse(m.data.toString()));
    expect(messages.every((m) => !m.binary)).toBe(true);
    expect(results[0]).toMatchObject({ frame: 1, dropped: 4, model: 'det', image: { width: 1, height: 1 } });
    expect(results[1]).toMatchObject({ frame: 6, dropped: 4, model: 'det', image: { width: 6, height: 1 } });
    expect(rt.calls.at(-1)!.params).toEqual({ thresh: 0.4 });
    ws.close();
    await tick(50);
    const after = parseMetrics(await metrics.registry.metrics());
    const d = (outcome: string) => metricSum(after, 'pinhole_stream_frames_total', { model: 'det', outcome })
      - metricSum(before, 'pinhole_stream_frames_total', { model: 'det', outcome });
    expect(d('processed')).toBe(2);
    expect(d('dropped')).toBe(4);
  });

  it('format=protobuf: pinhole.Frame in (id echoed), pinhole.Result out; raw images accepted too', async () => {
    const { ws, messages } = await connect('?format=protobuf');
    ws.send(encodeFrame(frames[2], 1234));
    await until(() => messages.length === 1);
    ws.send(frames[3]);
    await until(() => messages.length === 2);
    ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01]));
    await until(() => messages.length === 3);
    ws.close();
    expect(messages.every((m) => m.binary)).toBe(true);
    const [a, b, c] = messages.map((m) => decodeResult(m.data));
    expect(a).toMatchObject({ frame: 1, id: '1234', dropped: 0, model: 'det', width: 3, height: 1, detections: [] });
    expect(b).toMatchObject({ frame: 2, id: '0', width: 4 });
    expect(c).toMatchObject({ frame: 3, error: { code: 'bad_image' } });
  });

  it('Frame.id (uint64) is echoed exactly above 2^53, in protobuf and in JSON; a failed frame keeps its id', async () => {
    // 2^53 + 1 and 2^64 - 1 cannot be held by a JavaScript number: read as Long/string end to end
    const ids = ['9007199254740993', '18446744073709551615'];
    const notImage = Buffer.from('not an image at all');
    const pb = await connect('?format=protobuf');
    for (const id of ids) {
      pb.ws.send(encodeFrame(frames[1], BigInt(id)));
      await until(() => pb.messages.length === ids.indexOf(id) + 1);
    }
    pb.ws.send(encodeFrame(notImage, 77n));
    await until(() => pb.messages.length === 3);
    pb.ws.close();
    const got = pb.messages.map((m) => decodeResult(m.data));
    expect(got.map((r) => r.id)).toEqual([...ids, '77']);
    expect(got[2]).toMatchObject({ error: { code: 'bad_image' } });

    const js = await connect('');
    js.ws.send(encodeFrame(frames[1], ids[1]));
    await until(() => js.messages.length === 1);
    js.ws.send(encodeFrame(frames[1], 42));
    await until(() => js.messages.length === 2);
    js.ws.close();
    const [big, small] = js.messages.map((m) => JSON.parse(m.data.toString()));
    expect(big.id).toBe(ids[1]); // a decimal string above 2^53 - 1
    expect(small.id).toBe(42); // a number while it is exact
  });

  it('the server\'s streams take turns: with --stream-in-flight 1 a second stream\'s frame waits for the first\'s', async () => {
    const rt1 = new FakeRuntime();
    const app = await buildApp({ runtime: rt1, streamInFlight: 1 });
    const s1 = await startServer({ app, runtime: rt1, host: '127.0.0.1', port: 0 });
    try {
      const open = () => new Promise<{ ws: WebSocket; got: string[] }>((resolve, reject) => {
        const ws = new WebSocket(`${s1.url.replace('http', 'ws')}/v1/stream`);
        const got: string[] = [];
        ws.on('message', (d) => got.push(String(d)));
        ws.on('open', () => resolve({ ws, got }));
        ws.on('error', reject);
      });
      const [x, y] = [await open(), await open()];
      const release = rt1.hold();
      x.ws.send(frames[0]);
      await until(() => rt1.calls.length === 1);
      y.ws.send(frames[1]);
      y.ws.send(frames[2]);
      await tick(100);
      expect(rt1.calls.length).toBe(1);
      release();
      await until(() => x.got.length === 1 && y.got.length === 1);
      expect(rt1.calls.map((c) => c.bytes)).toEqual([frames[0].length, frames[2].length]);
      expect(JSON.parse(y.got[0])).toMatchObject({ frame: 2, dropped: 1, image: { width: 3 } });
      x.ws.close();
      y.ws.close();
    } finally {
      await s1.close();
    }
  });

  it('text messages get an error result; the stream stays usable', async () => {
    const { ws, messages } = await connect('');
    ws.send('hello');
    ws.send(frames[0]);
    await until(() => messages.length === 2);
    ws.close();
    const [a, b] = messages.map((m) => JSON.parse(m.data.toString()));
    expect(a).toMatchObject({ frame: 1, error: { code: 'bad_request' } });
    expect(b).toMatchObject({ frame: 2, image: { width: 1 } });
  });

  it('bad query or unknown model: the upgrade is refused with the HTTP error', async () => {
    const refused = (query: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}/v1/stream${query}`);
      ws.on('open', () => reject(new Error('upgraded')));
      ws.on('error', () => {});
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
    const a = await refused('?model=nope');
    expect(a.status).toBe(404);
    expect(JSON.parse(a.body).error.code).toBe('unknown_model');
    const b = await refused('?format=xml');
    expect(b.status).toBe(400);
    expect(JSON.parse(b.body).error.code).toBe('bad_parameter');
    const c = await refused('?model=gan');
    expect(c.status).toBe(400);
  });

  it('a frame over the size limit closes the socket with 1009; the server keeps serving', async () => {
    const { ws } = await connect('');
    const code = await new Promise<number>((resolve) => {
      ws.on('close', (c) => resolve(c));
      ws.send(Buffer.alloc(1024 * 1024 + 1));
    });
    expect(code).toBe(1009);
    const res = await fetch(`${server.url}/v2/health/live`);
    expect(res.status).toBe(200);
  });
});
