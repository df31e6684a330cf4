// GET / (and /index.html): the web console. Its script and style are served beside it; see console-bundle.ts.
import type { FastifyInstance } from 'fastify';
import { consoleAssets } from '../console-bundle.ts';

const hidden = { hide: true } as const;

export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  const page = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const a = await consoleAssets();
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(a.html);
  };
  app.get('/', { schema: { ...hidden, summary: 'The web console (HTML)' } }, page);
  app.get('/index.html', { schema: hidden }, page);
  app.get('/console.js', { schema: hidden }, async (_req, reply) => {
    const a = await consoleAssets();
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').header('x-build-ms', a.buildMs.toFixed(1)).send(a.js);
  });
  app.get('/console.css', { schema: hidden }, async (_req, reply) => {
    const a = await consoleAssets();
    return reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(a.css);
  });
}
