/**
 * The dev sandbox's built-in receiver (mounted only by `harepost dev`): anything sent to
 * /dev/sink is kept (the last 100) and answered 200; GET /dev/sink shows what arrived.
 */
import type { FastifyInstance } from 'fastify';

export interface SinkRecord {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  received_at: string;
}

const KEEP = 100;

export async function devSinkRoutes(app: FastifyInstance): Promise<void> {
  const arrived: SinkRecord[] = [];
  await app.register(async (sink) => {
    // bodies arrive as they were sent, whatever their type (not parsed as JSON like the API's)
    sink.removeAllContentTypeParsers();
    sink.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    sink.get('/dev/sink', async () => ({ data: [...arrived].reverse() }));
    sink.route({
      method: ['POST', 'PUT', 'PATCH', 'DELETE'],
      url: '/dev/sink',
      handler: async (request) => {
        arrived.push({
          method: request.method,
          path: request.url,
          headers: request.headers,
          body: Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '',
          received_at: new Date().toISOString(),
        });
        if (arrived.length > KEEP) arrived.shift();
        return { ok: true };
      },
    });
  });
}
