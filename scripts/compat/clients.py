"""make compat's client scenario for redis-py (Debian's python3-redis).

Usage: python3 clients.py <2|3> <target-name> <addr[,addr...]> [cluster]

Prints one line per step:
RESULT redis-py[-cluster] RESP<n> <target> <step> PASS|FAIL|SKIP [detail]
and exits 0 whatever the steps give (failures are the measurement).
"""

import signal
import sys
import threading
import time

import redis

protocol = int(sys.argv[1])
target = sys.argv[2]
addrs = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in sys.argv[3].split(",")]
cluster = len(sys.argv) > 4 and sys.argv[4] == "cluster"
name = "redis-py-cluster" if cluster else "redis-py"
tag = "{cc:%s:%s:%d}" % (name, target, protocol)


def k(n):
    return tag + ":" + n


def report(step, status, detail=""):
    detail = " ".join(str(detail).split())
    print(("RESULT %s RESP%d %s %s %s %s" % (name, protocol, target, step, status, detail)).rstrip(), flush=True)


class Timeout(Exception):
    pass


def on_alarm(*_):
    raise Timeout("timed out")


signal.signal(signal.SIGALRM, on_alarm)


def step(label, f):
    signal.alarm(10)
    try:
        f()
        report(label, "PASS")
        return True
    except Exception as e:  # every failure is a result
        report(label, "FAIL", "%s: %s" % (type(e).__name__, e))
        return False
    finally:
        signal.alarm(0)


def expect(what, got, want):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def main():
    kw = dict(socket_timeout=5, socket_connect_timeout=5, decode_responses=True)
    if protocol == 3:
        if int(redis.__version__.split(".")[0]) < 5:
            report("connect", "SKIP", "redis-py %s has no RESP3 (protocol=3 came in 5.0)" % redis.__version__)
            return
        kw["protocol"] = 3
    try:
        if cluster:
            from redis.cluster import ClusterNode, RedisCluster

            c = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in addrs], **kw)
        else:
            c = redis.Redis(host=addrs[0][0], port=addrs[0][1], **kw)
    except Exception as e:
        report("connect", "FAIL", "%s: %s" % (type(e).__name__, e))
        return

    if not step("connect", lambda: expect("PING", c.ping(), True)):
        return

    def set_get():
        c.set(k("s"), "hello")
        expect("GET", c.get(k("s")), "hello")

    def mget():
        c.mset({k("m1"): "a", k("m2"): "b"})
        expect("MGET", c.mget([k("m1"), k("m2"), k("missing")]), ["a", "b", None])

    def hset_hgetall():
        c.hset(k("h"), mapping={"f1": "v1", "f2": "v2"})
        expect("HGETALL", c.hgetall(k("h")), {"f1": "v1", "f2": "v2"})

    def pipeline():
        c.delete(k("n"))
        p = c.pipeline(transaction=False)
        for _ in range(10):
            p.incr(k("n"))
        expect("last INCR", p.execute()[9], 10)

    def multi_exec():
        p = c.pipeline(transaction=True)
        p.set(k("t"), "1").incr(k("t")).get(k("t"))
        expect("GET in MULTI", p.execute()[2], "2")

    def pubsub():
        ps = c.pubsub()
        try:
            ps.subscribe(k("chan"))
            deadline = time.time() + 5
            while time.time() < deadline:  # the subscribe confirmation
                m = ps.get_message(timeout=1)
                if m and m["type"] == "subscribe":
                    break
            else:
                raise AssertionError("no subscribe confirmation")
            n = c.publish(k("chan"), "msg")
            got = None
            while time.time() < deadline:
                m = ps.get_message(timeout=1)
                if m and m["type"] == "message":
                    got = m["data"]
                    break
            expect("message", got, "msg")
            if not cluster:  # Redis Cluster counts the receivers of one node only
                expect("PUBLISH receivers", n, 1)
        finally:
            ps.close()

    def lua():
        script = c.register_script(
            "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1]) .. ARGV[2]")
        expect("EVALSHA", script(keys=[k("lua")], args=["x", "y"]), "xy")

    def slots():
        for i in range(30):
            key = "cc:%s:%s:%d:slot:%d" % (name, target, protocol, i)
            c.set(key, str(i))
            expect("GET " + key, c.get(key), str(i))

    step("set_get", set_get)
    step("mget", mget)
    step("hset_hgetall", hset_hgetall)
    step("pipeline", pipeline)
    step("multi_exec", multi_exec)
    step("pubsub", pubsub)
    step("lua", lua)
    if cluster:
        step("slots", slots)
    threading.Thread(target=c.close, daemon=True).start()


if __name__ == "__main__":
    main()
