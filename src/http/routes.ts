// What a route is and what it answers, without node:http at run time: the services module builds
// routes at start-up, while the server itself (src/http/server.ts) is loaded only when one listens.
import type http from 'node:http';

export interface Reply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export type Handler = (req: http.IncomingMessage) => Promise<Reply> | Reply;

export interface Route {
  /** Exact path, or a prefix when it ends with '/'. */
  path: string;
  /** 'GET' (GET+HEAD) or 'ANY'. */
  method: 'GET' | 'ANY';
  handler: Handler;
}

export function textReply(status: number, body: string, extra: Record<string, string> = {}): Reply {
  return { status, body, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...extra } };
}

export interface RunningServer {
  readonly address: string;
  close(): Promise<void>;
}
