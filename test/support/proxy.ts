/** Passes a request on to another server and its answer back, as a proxy between two parties does. */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';

export function forwardRequest(upstream: string, req: IncomingMessage, res: ServerResponse): void {
  const forwarded = http.request(`${upstream}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  forwarded.on('error', () => res.writeHead(502).end());
  req.pipe(forwarded);
}
