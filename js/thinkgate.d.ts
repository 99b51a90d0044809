// TypeScript declarations of thinkgate.js (docs/recovery.md).

export interface ThinkgateOptions {
  /** A connect token (auth.secret), or a function returning one or a promise of one. */
  token?: string | (() => string | Promise<string>) | null;
  /** Milliseconds between "ping" messages; 0: none. Default 25000. */
  heartbeat?: number;
  /** First reconnect delay in ms (default 500); it doubles, with jitter, up to maxDelay. */
  minDelay?: number;
  /** Longest reconnect delay in ms. Default 30000. */
  maxDelay?: number;
  /** Ask for missed messages when connected (true, the default), only when recover() is called ('manual'), or never (false). */
  recover?: boolean | 'manual';
  /** Transports in order (default ['websocket', 'sse']): after two WebSocket attempts that never opened, Server-Sent Events at /sse. ['sse'] uses it at once. */
  transports?: Array<'websocket' | 'sse'>;
  /** A WebSocket class, where there is no global one. */
  WebSocket?: unknown;
  /** An EventSource class, where there is no global one. */
  EventSource?: unknown;
}

/** Where a message sits in its stream ("u:<uid>" or "g:<group>"); empty for messages with no history. */
export interface MessageMeta {
  stream?: string;
  offset?: number;
  epoch?: string;
}

export interface RecoveredEvent {
  stream: string;
  /** false: messages were lost (outside the kept history, or the server's history started over): reload your state. */
  recovered: boolean;
  missed: number;
  reason?: string;
}

export interface CloseEvent {
  code: number;
  reason: string;
  reconnecting: boolean;
}

export type State = 'connecting' | 'open' | 'closed';

export interface ThinkgateEvents {
  open: (e: { clientId: string; transport: 'websocket' | 'sse' }) => void;
  message: (data: string | Uint8Array, meta: MessageMeta) => void;
  recovered: (e: RecoveredEvent) => void;
  close: (e: CloseEvent) => void;
  state: (s: State) => void;
  control: (message: Record<string, unknown>) => void;
  error: (e: unknown) => void;
}

export declare class Thinkgate {
  /** url: the ws listener, or the nodes of a cluster (each reconnect tries the next). */
  constructor(url: string | string[], options?: ThinkgateOptions);
  /** The URL of the current (or next) connection. */
  url: string;
  readonly urls: string[];
  clientId: string | null;
  state: State;
  /** The transport in use. */
  transport: 'websocket' | 'sse';
  /** The last position seen of each stream. */
  positions: Record<string, { offset: number; epoch: string }>;
  on<K extends keyof ThinkgateEvents>(event: K, fn: ThinkgateEvents[K]): this;
  off<K extends keyof ThinkgateEvents>(event: K, fn: ThinkgateEvents[K]): this;
  /** Sends a text message (a string, or a value as JSON); false when not connected. */
  send(data: unknown): boolean;
  /** Asks for what was missed on every stream seen so far. */
  recover(): void;
  /** Closes for good: no reconnect. */
  close(): void;
  connect(): Promise<void>;
}

export default Thinkgate;
