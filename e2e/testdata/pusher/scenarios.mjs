// Scenarios run against a real thinkgate by e2e/pusher_test.go, with clients
// nobody here wrote: pusher-js (the Node build), laravel-echo over it, and
// the pusher Node server library for the HTTP API and its signing.
// Usage: node scenarios.mjs NAME; environment: TG_WS_PORT, TG_API_PORT,
// PUSHER_APP_ID, PUSHER_KEY, PUSHER_SECRET. Each check prints "ok: what";
// the first failure prints "FAIL: what" and exits 1.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
const require = createRequire(import.meta.url);
const PusherJS = require('pusher-js');
const PusherServer = require('pusher');
const { default: Echo } = await import('laravel-echo');

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} not set`); return v; };
const wsPort = Number(env('TG_WS_PORT')), apiPort = Number(env('TG_API_PORT'));
const appId = env('PUSHER_APP_ID'), key = env('PUSHER_KEY'), secret = env('PUSHER_SECRET');
const server = new PusherServer({ appId, key, secret, host: '127.0.0.1', port: apiPort, useTLS: false });
const clients = [];

const ok = (what) => console.log(`ok: ${what}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// until resolves with the first value f returns within ms, or fails naming what.
function until(what, register, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => { clearTimeout(t); resolve(v); });
  });
}

// A second node of a cluster, when the test runs one: the presence
// scenario's second user connects there.
const wsPort2 = Number(process.env.TG_WS_PORT2 || wsPort);

function connect(opts = {}, k = key, port = wsPort) {
  const p = new PusherJS(k, { cluster: 'mt1', wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'], ...opts });
  clients.push(p);
  return p;
}
const connected = (p) => until('connection', (done) => p.connection.bind('connected', () => done(p.connection.socket_id)));

// authorizer signs like a Laravel /broadcasting/auth endpoint, with the
// library's own signing; presence users come from user().
function authorizer(user) {
  return { customHandler: ({ socketId, channelName }, cb) => {
    cb(null, channelName.startsWith('presence-') ? server.authorizeChannel(socketId, channelName, user()) : server.authorizeChannel(socketId, channelName));
  } };
}
const subscribed = (ch) => until(`subscription to ${ch.name}`, (done) => {
  ch.bind('pusher:subscription_succeeded', done);
  ch.bind('pusher:subscription_error', (e) => done({ error: e }));
});

const scenarios = {
  async public() {
    const p = connect();
    const sid = await connected(p);
    assert.match(sid, /^\d+\.\d+$/);
    ok(`connected with socket_id ${sid}`);
    const ch = p.subscribe('news');
    await subscribed(ch);
    ok('subscribed to news');
    const got = until('update on news', (done) => ch.bind('update', done));
    const r = await server.trigger('news', 'update', { price: 42 });
    assert.equal(r.status, 200);
    assert.deepEqual(await got, { price: 42 });
    ok('event from the HTTP API arrived, data decoded');
    // socket_id excludes the sender; the next event proves nothing else came.
    const seen = [];
    ch.bind('excluded', () => seen.push('excluded'));
    const next = until('second update', (done) => ch.bind('after', done));
    await server.trigger('news', 'excluded', 'x', { socket_id: sid });
    await server.trigger('news', 'after', 'y');
    assert.equal(await next, 'y');
    assert.deepEqual(seen, []);
    ok('socket_id excluded the sender');
    const r2 = await server.trigger(['news', 'other'], 'multi', 'z', { info: 'subscription_count' });
    assert.deepEqual(await r2.json(), { channels: { news: { subscription_count: 1 }, other: { subscription_count: 0 } } });
    ok('info=subscription_count answered per channel');
    const batch = until('batch event', (done) => ch.bind('b2', done));
    const rb = await server.triggerBatch([{ channel: 'news', name: 'b1', data: '1' }, { channel: 'news', name: 'b2', data: '2' }]);
    assert.equal(rb.status, 200);
    assert.equal(await batch, 2);
    ok('batch_events delivered');
    const info = await (await server.get({ path: '/channels/news', params: { info: 'subscription_count' } })).json();
    assert.deepEqual(info, { occupied: true, subscription_count: 1 });
    const list = await (await server.get({ path: '/channels', params: {} })).json();
    assert.ok(list.channels.news, JSON.stringify(list));
    ok('channel and channels queries');
  },

  async private() {
    const p = connect({ channelAuthorization: authorizer(() => null) });
    await connected(p);
    assert.deepEqual(await subscribed(p.subscribe('private-orders')), {});
    ok('private channel authorized by the signature');
    const got = until('event on private-orders', (done) => p.channel('private-orders').bind('paid', done));
    await server.trigger('private-orders', 'paid', { id: 7 });
    assert.deepEqual(await got, { id: 7 });
    ok('private event arrived');
    const bad = connect({ channelAuthorization: { customHandler: ({ socketId, channelName }, cb) => cb(null, { auth: `${key}:${'0'.repeat(64)}` }) } });
    await connected(bad);
    const refused = until('pusher:error for the bad signature', (done) => bad.connection.bind('error', done));
    bad.subscribe('private-orders');
    const res = await refused;
    assert.match(res?.data?.message ?? res?.error?.data?.message ?? '', /^Invalid signature/, JSON.stringify(res));
    assert.equal(bad.connection.state, 'connected');
    ok('a bad signature gets pusher:error, as Pusher answers it; the connection stays');
  },

  async presence() {
    const mk = (id, name, port) => connect({ channelAuthorization: authorizer(() => ({ user_id: id, user_info: { name } })) }, key, port);
    const a = mk('1', 'Ann', wsPort), b = mk('2', 'Bob', wsPort2);
    await Promise.all([connected(a), connected(b)]);
    const ca = a.subscribe('presence-room');
    await subscribed(ca);
    assert.equal(ca.members.count, 1);
    assert.deepEqual(ca.members.me, { id: '1', info: { name: 'Ann' } });
    ok('first member sees itself');
    const added = until('member_added', (done) => ca.bind('pusher:member_added', done));
    const cb = b.subscribe('presence-room');
    await subscribed(cb);
    assert.equal(cb.members.count, 2);
    assert.deepEqual((await added), { id: '2', info: { name: 'Bob' } });
    ok('second member sees both, the first is told member_added');
    // A second connection of user 2 adds no member.
    const b2 = mk('2', 'Bob', wsPort2);
    await connected(b2);
    const extra = [];
    ca.bind('pusher:member_added', (m) => extra.push(m));
    await subscribed(b2.subscribe('presence-room'));
    const users = await (await server.get({ path: '/channels/presence-room/users' })).json();
    assert.deepEqual(users, { users: [{ id: '1' }, { id: '2' }] });
    const counts = await (await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json();
    assert.deepEqual(counts, { channels: { 'presence-room': { user_count: 2 } } });
    ok('users and user_count count users, not connections');
    const removed = until('member_removed', (done) => ca.bind('pusher:member_removed', done));
    b2.disconnect();
    await sleep(300);
    b.disconnect();
    assert.deepEqual(await removed, { id: '2', info: { name: 'Bob' } });
    assert.deepEqual(extra, []);
    ok('member_removed only when the last connection of the user left');
  },

  async 'client-events'() {
    const a = connect({ channelAuthorization: authorizer(() => null) }), b = connect({ channelAuthorization: authorizer(() => null) });
    await Promise.all([connected(a), connected(b)]);
    const ca = a.subscribe('private-chat'), cb = b.subscribe('private-chat');
    await Promise.all([subscribed(ca), subscribed(cb)]);
    const echoed = [];
    ca.bind('client-typing', (d) => echoed.push(d));
    const got = until('client event', (done) => cb.bind('client-typing', done));
    assert.ok(ca.trigger('client-typing', { who: 'a' }));
    assert.deepEqual(await got, { who: 'a' });
    await sleep(200);
    assert.deepEqual(echoed, []);
    ok('client event reached the other subscriber, not the sender');
    const pub = a.subscribe('lobby');
    await subscribed(pub);
    const err = until('pusher:error', (done) => a.connection.bind('error', done));
    pub.trigger('client-nope', {});
    const e = await err;
    assert.match(JSON.stringify(e), /private and presence/);
    ok('client event on a public channel refused with pusher:error');
    const limited = until('rate limit error', (done) => a.connection.bind('error', (x) => { if (x?.data?.code === 4301) done(x); }));
    for (let i = 0; i < 30; i++) ca.trigger('client-burst', { i });
    await limited;
    assert.equal(a.connection.state, 'connected');
    ok('client events past the rate get pusher:error 4301, the connection stays');
  },

  async cache() {
    const p = connect();
    await connected(p);
    const miss = p.subscribe('cache-empty');
    const m = until('cache_miss', (done) => miss.bind('pusher:cache_miss', () => done(true)));
    await subscribed(miss);
    assert.equal(await m, true);
    ok('an empty cache channel says pusher:cache_miss');
    await server.trigger('cache-prices', 'price', { v: 1 });
    await server.trigger('cache-prices', 'price', { v: 2 });
    const ch = p.subscribe('cache-prices');
    const last = until('cached event', (done) => ch.bind('price', done));
    await subscribed(ch);
    assert.deepEqual(await last, { v: 2 });
    ok('a new subscriber gets the last event');
  },

  async signin() {
    const p = connect({ userAuthentication: { customHandler: ({ socketId }, cb) => cb(null, server.authenticateUser(socketId, { id: 'u-9', name: 'Nine' })) } });
    await connected(p);
    const done = until('signin_success', (d) => p.bind('pusher:signin_success', d));
    p.signin();
    await done;
    ok('signed in');
    await sleep(200); // pusher-js subscribes to #server-to-user-u-9 after signing in
    const note = until('event to the user', (d) => p.user.bind('note', d));
    const rs = await server.sendToUser('u-9', 'note', { x: 1 });
    assert.equal(rs.status, 200);
    assert.deepEqual(await note, { x: 1 });
    ok('sendToUser reached the signed-in user');
    const err = until('terminate error', (d) => p.connection.bind('error', d));
    const left = until('disconnect', (d) => p.connection.bind('state_change', (s) => { if (s.current !== 'connected') d(s); }));
    const r = await server.terminateUserConnections('u-9');
    assert.equal(r.status, 200);
    const e = await err;
    assert.equal(e?.data?.code ?? e?.error?.data?.code, 4009, JSON.stringify(e));
    await left;
    ok('terminate_connections closed the user\'s connection with 4009');
  },

  async errors() {
    const p = connect({}, 'no-such-key');
    const e = await until('error for an unknown key', (done) => p.connection.bind('error', done));
    assert.equal(e?.error?.data?.code, 4001, JSON.stringify(e));
    await until('disconnected state', (done) => { if (p.connection.state === 'disconnected') done(); else p.connection.bind('state_change', (s) => { if (s.current === 'disconnected') done(); }); });
    await sleep(1500);
    assert.equal(p.connection.state, 'disconnected'); // 40xx: the client does not come back
    ok('unknown app key: pusher:error 4001, and the client does not reconnect');
    const r = await fetch(`http://127.0.0.1:${apiPort}/apps/${appId}/events?auth_key=${key}&auth_timestamp=1&auth_version=1.0&auth_signature=00`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 401);
    ok('an unsigned API request gets 401');
    const stale = new PusherServer({ appId, key, secret: 'wrong', host: '127.0.0.1', port: apiPort, useTLS: false });
    await assert.rejects(stale.trigger('news', 'x', 'y'), (err) => err.status === 401);
    ok('a wrong secret gets 401');
  },

  async echo() {
    const opts = { broadcaster: 'pusher', Pusher: PusherJS, key, cluster: 'mt1', wsHost: '127.0.0.1', wsPort, forceTLS: false, enabledTransports: ['ws'] };
    const mkEcho = (id, name) => new Echo({ ...opts, channelAuthorization: authorizer(() => ({ user_id: id, user_info: { id, name } })) });
    const e1 = mkEcho('1', 'Ann'), e2 = mkEcho('2', 'Bob');
    clients.push(e1.connector.pusher, e2.connector.pusher);
    const shipped = until('OrderShipped', (done) => e1.channel('orders').listen('.OrderShipped', done));
    await until('public subscription', (done) => e1.channel('orders').subscribed(done));
    await server.trigger('orders', 'OrderShipped', { order: { id: 5 } });
    assert.deepEqual(await shipped, { order: { id: 5 } });
    ok('Echo channel().listen(".OrderShipped")');
    const here = until('here', (done) => e1.join('room').here(done));
    assert.deepEqual(await here, [{ id: '1', name: 'Ann' }]);
    const joining = until('joining', (done) => e1.join('room').joining(done));
    const here2 = until('here for the second', (done) => e2.join('room').here(done));
    assert.equal((await here2).length, 2);
    assert.deepEqual(await joining, { id: '2', name: 'Bob' });
    ok('Echo join(): here, joining');
    const whisper = until('whisper', (done) => e1.private('chat').listenForWhisper('typing', done));
    await until('private subscription 1', (done) => e1.private('chat').subscribed(done));
    await until('private subscription 2', (done) => e2.private('chat').subscribed(done));
    e2.private('chat').whisper('typing', { name: 'Bob' });
    assert.deepEqual(await whisper, { name: 'Bob' });
    ok('Echo whisper / listenForWhisper');
    const leaving = until('leaving', (done) => e1.join('room').leaving(done));
    e2.leave('room');
    assert.deepEqual(await leaving, { id: '2', name: 'Bob' });
    ok('Echo leaving');
  },
};

const name = process.argv[2];
try {
  if (!scenarios[name]) throw new Error(`unknown scenario ${name}`);
  await scenarios[name]();
  console.log('done');
  for (const c of clients) c.disconnect();
  process.exit(0);
} catch (err) {
  console.log(`FAIL: ${err.stack || err}`);
  process.exit(1);
}
