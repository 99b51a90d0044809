// thinkgate.js: the browser client of thinkgate (https://github.com/.../thinkgate).
// No dependencies. Connects with the native protocol's version 2, keeps the
// connection alive (heartbeat, reconnect with exponential backoff and
// jitter) and recovers what it missed while it was away, for the uids and
// groups the server keeps history of (docs/recovery.md): every message is
// delivered once, in order, or a "recovered" event says it could not be.
// This file is the ES module; thinkgate.js is the same code as a UMD build
// (generated from this file: go generate ./js).

const DEFAULTS = {
  token: null,          // a connect token, or a function returning one (or a promise of one)
  heartbeat: 25000,     // ms between "ping" messages; 0: none
  minDelay: 500,        // first reconnect delay, ms
  maxDelay: 30000,      // longest reconnect delay, ms
  recover: true,        // ask for missed messages when connected; 'manual': only when recover() is called (after a bind)
  transports: ['websocket', 'sse'], // in order; after two WebSocket attempts that never opened, Server-Sent Events
  WebSocket: null,      // a WebSocket class (defaults to the global one)
  EventSource: null,    // an EventSource class (defaults to the global one)
};

class Thinkgate {
  // url: the ws listener (ws://host:2828/), or a list of them (the nodes of
  // a cluster): each reconnect tries the next.
  constructor(url, options) {
    this.urls = Array.isArray(url) ? url.slice() : [url];
    this.url = this.urls[0];
    this.options = Object.assign({}, DEFAULTS, options || {});
    this.clientId = null;
    this.state = 'closed';
    this.positions = {};   // stream -> {offset, epoch}: the last message seen of each
    this._handlers = {};
    this._ws = null;
    this._attempt = 0;
    this._timer = null;
    this._beat = null;
    this._closedByUser = false;
    this._recovering = {}; // stream -> buffered messages while a recover is answered
    this._wsFailures = 0;  // WebSocket attempts in a row that never opened
    this.transport = this.options.transports[0] === 'sse' ? 'sse' : 'websocket';
    this._key = null;      // SSE: where this stream's messages go up
    this.connect();
  }

  // on(event, fn): 'open' ({clientId}), 'message' (data, meta), 'recovered'
  // ({stream, recovered, missed, reason}), 'close' ({code, reason,
  // reconnecting}), 'state' (state), 'control' (the server's own messages).
  on(event, fn) { (this._handlers[event] = this._handlers[event] || []).push(fn); return this; }
  off(event, fn) { this._handlers[event] = (this._handlers[event] || []).filter((f) => f !== fn); return this; }
  _emit(event, ...args) {
    for (const fn of (this._handlers[event] || []).slice()) {
      try { fn(...args); } catch (e) { setTimeout(() => { throw e; }); }
    }
  }
  _setState(s) { if (this.state !== s) { this.state = s; this._emit('state', s); } }

  // send a text message (a string, or a value sent as JSON) to the server.
  send(data) {
    const body = typeof data === 'string' ? data : JSON.stringify(data);
    if (this.transport === 'sse') {
      if (!this._es || !this._key) return false;
      fetch(this._sseURL('/sse/send', { key: this._key }), { method: 'POST', body, headers: { 'Content-Type': 'text/plain' } })
        .catch((e) => this._emit('error', e));
      return true;
    }
    if (!this._ws || this._ws.readyState !== 1) return false;
    this._ws.send(body);
    return true;
  }

  // _sseURL is path on the ws listener's host, over http(s).
  _sseURL(path, params) {
    const u = new URL(this.url, typeof location !== 'undefined' ? location.href : undefined);
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.pathname = path;
    u.search = '';
    for (const k in params) if (params[k] != null) u.searchParams.set(k, params[k]);
    return u.toString();
  }

  // close for good (no reconnect).
  close() {
    this._closedByUser = true;
    clearTimeout(this._timer);
    this._stopBeat();
    if (this._ws) this._ws.close(1000, 'client closed');
    if (this._es) { this._es.close(); this._es = null; }
    this._setState('closed');
  }

  async connect() {
    this._closedByUser = false;
    this._setState('connecting');
    let token = this.options.token;
    if (typeof token === 'function') {
      try { token = await token(); } catch (e) { this._emit('error', e); this._schedule(); return; }
    }
    if (this.transport === 'sse') { this._connectSSE(token); return; }
    const u = new URL(this.url, typeof location !== 'undefined' ? location.href : undefined);
    u.searchParams.set('v', '2');
    if (token) u.searchParams.set('token', token);
    const WS = this.options.WebSocket || globalThis.WebSocket;
    let ws;
    try { ws = new WS(u.toString()); } catch (e) { this._emit('error', e); this._schedule(); return; }
    this._ws = ws;
    ws.onmessage = (ev) => this._onMessage(ev.data);
    ws.onclose = (ev) => this._onClose(ws, ev);
    ws.onerror = () => {}; // a close follows
  }

  // _connectSSE opens an EventSource at /sse; what was missed is asked
  // for in its URL (recover), and thinkgate replays it at once.
  _connectSSE(token) {
    const ES = this.options.EventSource || globalThis.EventSource;
    const streams = {};
    if (this.options.recover === true) {
      for (const s in this.positions) { streams[s] = this.positions[s]; this._recovering[s] = this._recovering[s] || []; }
    }
    const params = { token: token || null, recover: Object.keys(streams).length ? JSON.stringify(streams) : null };
    let es;
    try { es = new ES(this._sseURL('/sse', params)); } catch (e) { this._emit('error', e); this._schedule(); return; }
    this._es = es;
    this._key = null;
    es.onmessage = (ev) => this._onMessage(ev.data);
    // EventSource would reconnect by itself, with only the last id: this
    // client reconnects itself, with every stream's position.
    es.onerror = () => this._onClose(es, { code: 1006, reason: 'event stream ended' });
  }

  _onMessage(raw) {
    if (typeof raw !== 'string') return;
    if (raw === 'pong') return;
    let m;
    try { m = JSON.parse(raw); } catch (e) { this._emit('message', raw, {}); return; }
    switch (m && m.type) {
      case 'sse':
        this._key = m.key;
        return;
      case 'close': // SSE: the server closed the stream, saying why
        if (this._es) this._onClose(this._es, { code: m.code, reason: m.reason });
        return;
      case 'init':
        this.clientId = m.client_id;
        this._attempt = 0;
        this._wsFailures = 0;
        this._opened = true;
        this._setState('open');
        if (this.transport === 'websocket') this._startBeat(); // an event stream has the server's heartbeat
        this._emit('open', { clientId: this.clientId, transport: this.transport });
        if (this.options.recover === true && this.transport === 'websocket') this.recover();
        return;
      case 'message':
        this._onData(m);
        return;
      case 'recovered':
        this._onRecovered(m.streams || {});
        return;
      default:
        this._emit('control', m);
    }
  }

  // recover asks for what was missed on every stream seen so far; call it
  // again after the server bound this client to a uid or group it had
  // before (the bind-after-connect flow).
  recover() {
    const streams = {};
    for (const s in this.positions) {
      streams[s] = this.positions[s];
      this._recovering[s] = this._recovering[s] || [];
    }
    if (Object.keys(streams).length) this.send({ type: 'recover', streams });
  }

  _decode(m) {
    if (!m.binary) return m.data;
    const bin = atob(m.data);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  _onData(m) {
    if (!m.stream) { this._emit('message', this._decode(m), {}); return; }
    if (this._recovering[m.stream]) { this._recovering[m.stream].push(m); return; }
    this._deliver(m);
  }

  // _deliver hands on a positioned message once: an offset already seen in
  // the same epoch is a duplicate.
  _deliver(m) {
    const at = this.positions[m.stream];
    if (at && at.epoch === m.epoch && m.offset <= at.offset) return;
    this.positions[m.stream] = { offset: m.offset, epoch: m.epoch };
    this._emit('message', this._decode(m), { stream: m.stream, offset: m.offset, epoch: m.epoch });
  }

  _onRecovered(streams) {
    for (const s in streams) {
      const st = streams[s];
      const buffered = (this._recovering[s] || []).sort((a, b) => a.offset - b.offset);
      delete this._recovering[s];
      if (!st.recovered && st.not_member) {
        // Not bound to it (yet): keep the position for a later recover().
        this._emit('recovered', { stream: s, recovered: false, missed: 0, reason: st.reason || '' });
      } else if (!st.recovered) {
        // The gap cannot be filled: start over from what comes now; the app
        // reloads its state.
        delete this.positions[s];
        this._emit('recovered', { stream: s, recovered: false, missed: 0, reason: st.reason || '' });
      } else {
        this._emit('recovered', { stream: s, recovered: true, missed: st.missed || 0 });
      }
      for (const m of buffered) this._deliver(m);
    }
  }

  _startBeat() {
    this._stopBeat();
    if (this.options.heartbeat > 0) this._beat = setInterval(() => this.send('ping'), this.options.heartbeat);
  }
  _stopBeat() { clearInterval(this._beat); this._beat = null; }

  _onClose(conn, ev) {
    if (conn !== this._ws && conn !== this._es) return;
    this._stopBeat();
    if (conn === this._es) { this._es.close(); this._es = null; } else { this._ws = null; }
    // WebSocket that never opens (a proxy that breaks it): after two tries,
    // Server-Sent Events, when allowed.
    if (this.transport === 'websocket' && !this._opened && ++this._wsFailures >= 2 && this.options.transports.indexOf('sse') >= 0) {
      this.transport = 'sse';
    }
    this._opened = false;
    // Messages held for a recover that was not answered are dropped: the
    // next connection asks again from the same positions, and gets them.
    this._recovering = {};
    const reconnecting = !this._closedByUser && ev.code !== 4001 && ev.code !== 4003;
    this._emit('close', { code: ev.code, reason: ev.reason, reconnecting });
    if (reconnecting) this._schedule(); else this._setState('closed');
  }

  // _schedule reconnects after an exponential delay with full jitter.
  _schedule() {
    if (this._closedByUser) return;
    this._setState('connecting');
    this.url = this.urls[(this.urls.indexOf(this.url) + 1) % this.urls.length];
    const cap = Math.min(this.options.maxDelay, this.options.minDelay * Math.pow(2, this._attempt++));
    const delay = cap / 2 + Math.random() * cap / 2;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this.connect(), delay);
  }
}

export { Thinkgate as default, Thinkgate };
