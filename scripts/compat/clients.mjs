// make compat's client scenario for node-redis and ioredis. Usage:
//
//   node clients.mjs <node-redis|ioredis> <2|3> <target-name> <addr[,addr...]> [cluster]
//
// Prints one line per step: RESULT <client> RESP<n> <target> <step> PASS|FAIL [detail]
// and exits 0 whatever the steps give (failures are the measurement).
import { createRequire } from 'node:module';

const require = createRequire(process.env.COMPAT_NODE_MODULES + '/');
const [clientName, protoArg, target, addrArg, clusterArg] = process.argv.slice(2);
const protocol = Number(protoArg);
const cluster = clusterArg === 'cluster';
const addrs = addrArg.split(',').map((a) => {
  const i = a.lastIndexOf(':');
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
});
const tag = `{cc:${clientName}:${target}:${protocol}}`;
const k = (n) => `${tag}:${n}`;
const STEP_TIMEOUT = 10000;

function report(step, err) {
  const detail = err ? String(err && err.message ? err.message : err).replace(/\s+/g, ' ') : '';
  console.log(`RESULT ${clientName} RESP${protocol} ${target} ${step} ${err ? 'FAIL' : 'PASS'} ${detail}`.trimEnd());
}

async function step(name, f) {
  let timer;
  try {
    await Promise.race([
      f(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), STEP_TIMEOUT); }),
    ]);
    report(name, null);
    return true;
  } catch (e) {
    report(name, e);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function expect(what, got, want) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

// normalize turns a Map (RESP3 map with some type mappings) into an object.
function normalize(v) {
  if (v instanceof Map) return Object.fromEntries([...v].map(([a, b]) => [String(a), String(b)]));
  if (Array.isArray(v) && v.length % 2 === 0 && v.length > 0 && typeof v[0] === 'string') {
    const o = {};
    for (let i = 0; i < v.length; i += 2) o[v[i]] = v[i + 1];
    return o;
  }
  return v;
}

// protoOf finds the proto field of a HELLO reply, whatever shape the
// library gives a map.
function protoOf(v) {
  if (v instanceof Map) {
    for (const [a, b] of v) if (String(a) === 'proto') return Number(b);
  } else if (Array.isArray(v)) {
    for (let i = 0; i + 1 < v.length; i += 2) if (String(v[i]) === 'proto') return Number(v[i + 1]);
  } else if (v && typeof v === 'object' && 'proto' in v) {
    return Number(v.proto);
  }
  return v;
}

const lua = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1]) .. ARGV[2]";

async function closeClient(c) {
  try {
    await (c.close ? c.close() : c.quit());
  } catch {
    /* ignored */
  }
}

// Each adapter exposes the scenario's operations for one library.
async function nodeRedis() {
  const { createClient, createCluster } = require('redis');
  const socket = { connectTimeout: 5000, reconnectStrategy: false };
  let c;
  if (cluster) {
    c = createCluster({
      rootNodes: addrs.map((a) => ({ socket: { host: a.host, port: a.port } })),
      defaults: { socket, RESP: protocol },
      RESP: protocol,
    });
  } else {
    c = createClient({ socket: { ...socket, host: addrs[0].host, port: addrs[0].port }, RESP: protocol });
  }
  c.on('error', () => {});
  return {
    connect: async () => { await c.connect(); if (!cluster) expect('PING', await c.ping(), 'PONG'); },
    set: (key, v) => c.set(key, v),
    get: (key) => c.get(key),
    mset: (kv) => c.mSet(kv),
    mget: (keys) => c.mGet(keys),
    hset: (key, o) => c.hSet(key, o),
    hgetall: async (key) => normalize(await c.hGetAll(key)),
    del: (key) => c.del(key),
    pipelineIncr: async (key, n) => {
      const m = c.multi();
      for (let i = 0; i < n; i++) m.incr(key);
      return m.execAsPipeline();
    },
    multi: (key) => c.multi().set(key, '1').incr(key).get(key).exec(),
    pubsub: async (ch) => {
      // A cluster client keeps its own pub/sub connection; a plain one
      // subscribes on a duplicate.
      let sub = c;
      if (!cluster) {
        sub = c.duplicate();
        sub.on('error', () => {});
        await sub.connect();
      }
      try {
        let resolve;
        const got = new Promise((r) => { resolve = r; });
        await sub.subscribe(ch, (m) => resolve(m));
        const n = await c.publish(ch, 'msg');
        expect('message', await got, 'msg');
        // Redis Cluster counts the receivers of one node only.
        if (!cluster) expect('PUBLISH receivers', Number(n), 1);
        if (cluster) await sub.unsubscribe(ch);
      } finally {
        if (!cluster) await closeClient(sub);
      }
    },
    eval: (key) => c.eval(lua, { keys: [key], arguments: ['x', 'y'] }),
    hello3: () => (cluster ? c.sendCommand(undefined, false, ['HELLO', '3']) : c.sendCommand(['HELLO', '3'])),
    close: () => closeClient(c),
  };
}

async function ioredis() {
  const Redis = require('ioredis');
  const opts = {
    protocol, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1,
    retryStrategy: () => null, enableOfflineQueue: true,
  };
  let c;
  if (cluster) {
    c = new Redis.Cluster(addrs, { redisOptions: opts, clusterRetryStrategy: () => null, lazyConnect: true });
  } else {
    c = new Redis({ ...opts, host: addrs[0].host, port: addrs[0].port });
  }
  c.on('error', () => {});
  return {
    connect: async () => { await c.connect(); expect('PING', await c.ping(), 'PONG'); },
    set: (key, v) => c.set(key, v),
    get: (key) => c.get(key),
    mset: (kv) => c.mset(kv),
    mget: (keys) => c.mget(...keys),
    hset: (key, o) => c.hset(key, o),
    hgetall: async (key) => normalize(await c.hgetall(key)),
    del: (key) => c.del(key),
    pipelineIncr: async (key, n) => {
      const p = c.pipeline();
      for (let i = 0; i < n; i++) p.incr(key);
      const res = await p.exec();
      for (const [err] of res) if (err) throw err;
      return res.map(([, v]) => v);
    },
    multi: async (key) => {
      const res = await c.multi().set(key, '1').incr(key).get(key).exec();
      if (res === null) throw new Error('EXEC returned null');
      for (const [err] of res) if (err) throw err;
      return res.map(([, v]) => v);
    },
    pubsub: async (ch) => {
      const sub = c.duplicate();
      sub.on('error', () => {});
      try {
        if (!cluster) await sub.connect();
        let resolve;
        const got = new Promise((r) => { resolve = r; });
        sub.on('message', (_c, m) => resolve(m));
        await sub.subscribe(ch);
        const n = await c.publish(ch, 'msg');
        expect('message', await got, 'msg');
        if (!cluster) expect('PUBLISH receivers', Number(n), 1);
      } finally {
        sub.disconnect();
      }
    },
    eval: (key) => c.eval(lua, 1, key, 'x', 'y'),
    hello3: () => c.call('HELLO', '3'),
    close: async () => { c.disconnect(); },
  };
}

async function main() {
  let c;
  try {
    c = clientName === 'ioredis' ? await ioredis() : await nodeRedis();
  } catch (e) {
    report('connect', e);
    process.exit(0);
  }
  if (!(await step('connect', () => c.connect()))) {
    await c.close();
    process.exit(0);
  }
  if (protocol === 3) {
    await step('hello3', async () => {
      expect('proto', protoOf(await c.hello3()), 3);
    });
  }
  await step('set_get', async () => {
    await c.set(k('s'), 'hello');
    expect('GET', await c.get(k('s')), 'hello');
  });
  await step('mget', async () => {
    await c.mset({ [k('m1')]: 'a', [k('m2')]: 'b' });
    expect('MGET', await c.mget([k('m1'), k('m2'), k('missing')]), ['a', 'b', null]);
  });
  await step('hset_hgetall', async () => {
    await c.hset(k('h'), { f1: 'v1', f2: 'v2' });
    const v = await c.hgetall(k('h'));
    expect('HGETALL', Object.fromEntries(Object.entries(v).sort()), { f1: 'v1', f2: 'v2' });
  });
  await step('pipeline', async () => {
    await c.del(k('n'));
    const res = await c.pipelineIncr(k('n'), 10);
    expect('last INCR', Number(res[9]), 10);
  });
  await step('multi_exec', async () => {
    const res = await c.multi(k('t'));
    expect('GET in MULTI', String(res[2]), '2');
  });
  await step('pubsub', () => c.pubsub(k('chan')));
  await step('lua', async () => {
    expect('EVAL', String(await c.eval(k('lua'))), 'xy');
  });
  if (cluster) {
    await step('slots', async () => {
      for (let i = 0; i < 30; i++) {
        const key = `cc:${clientName}:${target}:${protocol}:slot:${i}`;
        await c.set(key, String(i));
        expect(`GET ${key}`, await c.get(key), String(i));
      }
    });
  }
  await c.close();
  process.exit(0);
}

main().catch((e) => {
  report('harness', e);
  process.exit(1);
});
