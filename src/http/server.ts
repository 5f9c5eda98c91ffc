// Plain node:http server with Go ServeMux semantics for the few routes containerboot serves:
// a GET route also answers HEAD; other methods get 405 with `Allow: GET, HEAD`; unknown paths
// get 404 `404 page not found`. (fastify was measured at +19 MB RSS: docs/DECISIONS.md.)
import http from 'node:http';
import { parseAddrPort } from '../util/netip.js';
import { textReply, type Reply, type Route, type RunningServer } from './routes.js';

export { textReply, type Handler, type Reply, type Route, type RunningServer } from './routes.js';

function findRoute(routes: Route[], pathname: string): Route | undefined {
  return routes.find((r) => r.path === pathname) ?? routes.find((r) => r.path.endsWith('/') && pathname.startsWith(r.path));
}

export async function startServer(addrPort: string, routes: Route[], onError: (e: Error) => void): Promise<RunningServer> {
  const { addr, port } = parseAddrPort(addrPort);
  const server = http.createServer(async (req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    const route = findRoute(routes, pathname);
    let reply: Reply;
    if (!route) {
      reply = textReply(404, '404 page not found\n');
    } else if (route.method === 'GET' && req.method !== 'GET' && req.method !== 'HEAD') {
      reply = textReply(405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    } else {
      try {
        reply = await route.handler(req);
      } catch (e) {
        reply = textReply(500, `${(e as Error).message}\n`);
      }
    }
    const body = reply.body ?? '';
    const headers: Record<string, string | string[]> = { ...reply.headers };
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['Content-Length'] = String(Buffer.byteLength(body));
    res.writeHead(reply.status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.text, port, ipv6Only: false }, () => {
      server.off('error', reject);
      server.on('error', onError);
      resolve();
    });
  });
  return {
    address: addrPort,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
