// The lab's tiny web page: `node web-server.mjs PORT NAME [BIND]`. Answers every request with a
// line naming the server and the client address it saw, so tests can check NAT behaviour.
import http from 'node:http';

const [port = '8080', name = 'web', bind = '0.0.0.0'] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const body = req.url === '/' || req.url === '/index.html'
    ? `<!doctype html><title>${name}</title><h1>hello from ${name}</h1><p>client=${client}</p>\n`
    : `hello from ${name}; client=${client}; path=${req.url}\n`;
  res.writeHead(200, { 'Content-Type': req.url === '/' ? 'text/html' : 'text/plain', 'X-Lab-Client': client, 'X-Lab-Server': name });
  res.end(body);
});
server.listen(Number(port), bind, () => console.log(`web ${name} listening on ${bind}:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
