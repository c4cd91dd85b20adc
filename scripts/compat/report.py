"""make compat's report: reads the Tcl logs and client results under --out
and prints the tables and every failure through the proxy.

Tcl logs: OUT/tcl/<config>/<unit>/tcl.log and result (runtest's exit code,
or ENV-FAILED). Client results: OUT/clients/results, RESULT lines.
"""

import argparse
import collections
import os
import re
import subprocess
import sys

STATUS = re.compile(r"^\[(ok|err|exception|skip|ignore|TIMEOUT)\]: ?(.*)$")
BOUNDARY = re.compile(r"^(\[[^\]]*\]:|\[\d+/\d+ |Testing |Killing |Cleanup:|\s*The End|Execution time|\\o/|!!!)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Which direct configuration each proxy configuration is compared with.
BASELINE = {"proxy": "direct", "proxy-cluster-emu": "direct-cluster", "proxy-cluster": "direct"}

# Probable causes, tried in order on the test name, unit and error text.
CAUSES = [
    ("RESP3/HELLO 3", r"NOPROTO|HELLO 3|hello [23]\b|RESP3|resp3|readraw|attrib"),
    ("CLIENT TRACKING / CLIENT REPLY", r"[Tt]racking|TRACKING|CLIENT REPLY|client reply|invalidat|BCAST|OPTIN|OPTOUT"),
    ("SYNC / REPLICAOF / MONITOR on a shared connection (the upstream left a replica, replication stream)",
     r"replication_stream|\bSYNC\b|PSYNC|REPLICAOF|SLAVEOF|MASTERDOWN|read only replica|MONITOR|monitor|"
     r"connection to upstream .* was lost"),
    ("refused commands", r"refused|not allowed|not supported by keyway|unsupported|unknown command|ERR keyway|denied"),
    ("INFO fields", r"\bINFO\b|\binfo\b|errorstat|cmdstat|blocked_clients|blocked client|connected_clients|used_cpu|"
     r"rdb_changes|keyspace_hits|expired_keys|evicted|instantaneous|stat_"),
    ("cluster-wide commands (one node answers for the cluster)",
     r"CROSSSLOT|CLUSTERDOWN|MOVED|ASK |cross.?slot|SCRIPT KILL|FUNCTION KILL|BUSY|NOTBUSY|script timeout|"
     r"FUNCTION (LOAD|DELETE|FLUSH|DUMP|RESTORE|LIST)|SCRIPT (FLUSH|EXISTS|LOAD)|CONFIG (SET|GET|RESETSTAT)|"
     r"DBSIZE|RANDOMKEY|KEYS|WAIT|[Pp]ublish|PUBLISH|[Kk]eyspace notif|NOSCRIPT|[Nn]o such (function|library)|"
     r"non local key|WRONGPASS|ACL"),
]


def parse_tcl(path):
    """Returns [(status, name, message)] from one runtest log."""
    out = []
    try:
        with open(path, errors="replace") as f:
            lines = [ANSI.sub("", l.rstrip("\n")) for l in f]
    except OSError:
        return out
    i = 0
    while i < len(lines):
        m = STATUS.match(lines[i])
        if not m:
            i += 1
            continue
        status, data = m.group(1), m.group(2)
        msg = []
        j = i + 1
        if status in ("err", "exception", "TIMEOUT"):
            while j < len(lines) and not BOUNDARY.match(lines[j]) and len(msg) < 40:
                if lines[j].strip():
                    msg.append(lines[j].strip())
                j += 1
        if status == "ok":
            data = re.sub(r" \(\d+ ms\)$", "", data)
        elif status == "err" and re.search(r" in tests/\S+$", data):
            data = re.sub(r" in tests/\S+$", "", data)
        elif status == "err":
            # An error outside any test (in a start_server body): runtest
            # --durable reports it with the error text, its first ten
            # characters cut, and skips the rest of that block.
            status, msg = "block", [data] + msg
            data = "(error outside a test; the rest of its start_server block did not run)"
        out.append((status, data, msg))
        i = j if j > i + 1 else i + 1
    return out


class Unit:
    def __init__(self, config, unit, base):
        self.config, self.unit = config, unit
        d = os.path.join(base, "tcl", config, unit.replace("/", "-"))
        try:
            self.result = open(os.path.join(d, "result")).read().strip()
        except OSError:
            self.result = "NOT-RUN"
        self.log = os.path.join(d, "tcl.log")
        self.entries = parse_tcl(self.log)
        self.ok = [e[1] for e in self.entries if e[0] == "ok"]
        self.failed = [e for e in self.entries if e[0] in ("err", "exception", "TIMEOUT", "block")]
        self.skipped = [e for e in self.entries if e[0] in ("skip", "ignore")]
        self.note = ""
        if self.result == "ENV-FAILED":
            self.note = "servers did not start"
        elif self.result == "NOT-RUN":
            self.note = "not run"
        elif self.result == "124" or self.result == "137":
            self.note = "unit timed out"
            self.failed.append(("TIMEOUT", "(unit timed out; later tests did not run)", []))
        elif any(e[0] == "exception" for e in self.entries):
            self.note = "exception ended the unit"
        elif not self.done():
            self.note = "exception ended the unit"
            self.failed.append(("exception", "(the unit ended early: an error outside a test; later tests did not run)", []))
        elif self.result not in ("0", "1"):
            self.note = "runtest exited %s" % self.result

    def done(self):
        try:
            with open(self.log, errors="replace") as f:
                return any(re.match(r"^\[\d+/\d+ done\]", ANSI.sub("", l)) for l in f)
        except OSError:
            return False

    def cell(self):
        if self.result in ("ENV-FAILED", "NOT-RUN"):
            return "-"
        s = str(len(self.ok))
        if self.failed:
            s += " (%d✗)" % len(self.failed)
        if self.note and self.note != "exception ended the unit":
            s += "!"
        elif self.note:
            s += "x"
        return s


def brief(msg):
    """The error text of a failure without its Tcl backtrace."""
    if len(msg) > 1 and msg[1].endswith(msg[0]):
        msg = msg[1:]  # the first line is the second with ten characters cut
    out = []
    for m in msg:
        if m.startswith("while executing") or m.startswith("invoked from within") or m.startswith("(procedure"):
            break
        out.append(m)
    return out[:4]


def cause(unit, name, msg):
    text = " ".join([unit, name] + msg[:3])
    for label, pattern in CAUSES:
        if re.search(pattern, text):
            return label
    return "other"


def git_state():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--started", default="")
    ap.add_argument("--configs", default="")
    ap.add_argument("--units", default="")
    ap.add_argument("--proxy-bin", default="bin/keyway-proxy")
    a = ap.parse_args()
    configs = [c for c in a.configs.split() if os.path.isdir(os.path.join(a.out, "tcl", c))]
    units = a.units.split()
    p = print
    p("Keyway compatibility run (make compat)")
    p("started %s; repository %s; proxy %s" % (a.started, git_state(), a.proxy_bin))
    p("Redis %s; Tcl suite from Debian's source package; --tags \"-slow -needs:debug\", external server,"
      % subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2].split("=")[1])
    p("--ignore-encoding --ignore-digest --durable; each unit on fresh servers.")
    p("")

    res = {(c, u): Unit(c, u, a.out) for c in configs for u in units}
    if configs and os.path.isdir(os.path.join(a.out, "tcl")):
        p("== Redis Tcl suite: tests passed per unit ==")
        p("direct          redis-server, --singledb")
        p("proxy           keyway-proxy --upstream -> redis-server, --singledb")
        p("direct-cluster  one cluster-mode redis-server owning every slot, --cluster-mode (Redis's own CI setup)")
        p("proxy-cl-emu    keyway-proxy cluster_emulation -> 3 primaries + 3 replicas, --cluster-mode")
        p("proxy-cluster   keyway-proxy plain listener -> same cluster, --singledb (compared with direct)")
        p("N (k✗): N passed, k failed; x: an exception ended the unit; !: timed out or runtest failed; -: not run")
        p("")
        short = {"proxy-cluster-emu": "proxy-cl-emu"}
        header = ["unit"] + [short.get(c, c) for c in configs]
        rows = []
        totals = collections.Counter()
        for u in units:
            row = [u]
            for c in configs:
                r = res[(c, u)]
                row.append(r.cell())
                totals[(c, "ok")] += len(r.ok)
                totals[(c, "fail")] += len(r.failed)
            rows.append(row)
        rows.append(["TOTAL"] + ["%d (%d✗)" % (totals[(c, "ok")], totals[(c, "fail")]) for c in configs])
        p(table(rows, header))
        p("")
        summary = []
        for c in configs:
            base = BASELINE.get(c)
            if not base or base not in configs:
                continue
            lost = sum(len(set(res[(base, u)].ok) - set(res[(c, u)].ok)) for u in units)
            gained = sum(len(set(res[(c, u)].ok) - set(res[(base, u)].ok)) for u in units)
            summary.append([c, base, totals[(base, "ok")], totals[(c, "ok")], lost, gained])
        if summary:
            p(table(summary, ["through", "vs", "passed directly", "passed through proxy",
                              "pass directly, not through proxy", "pass only through proxy"]))
            p("")

        p("== Tcl failures through the proxy ==")
        p("[regression] passed directly (in the baseline configuration) but not through the proxy;")
        p("[as direct] failed the same way directly; [not run directly] did not run directly.")
        for c in configs:
            base = BASELINE.get(c)
            if not base:
                continue
            by_cause = collections.defaultdict(list)
            for u in units:
                r = res[(c, u)]
                b = res.get((base, u))
                base_ok = set(b.ok) if b else set()
                base_failed = {e[1] for e in b.failed} if b else set()
                if r.note in ("servers did not start", "not run"):
                    by_cause["harness"].append("%s: %s" % (u, r.note))
                    continue
                for status, name, msg in r.failed:
                    if status == "block":
                        tag = "[block aborted]"
                    else:
                        tag = "[regression]" if name in base_ok else "[as direct]" if name in base_failed else "[not run directly]"
                    text = " | ".join(brief(msg))
                    by_cause[cause(u, name, msg)].append("%s %s: %s%s: %s" % (
                        tag, u, name, "" if status == "err" else " (%s)" % status, text[:600]))
            p("")
            p("--- %s (baseline %s) ---" % (c, base))
            if not by_cause:
                p("  none")
            for label in [x[0] for x in CAUSES] + ["other", "harness"]:
                if by_cause.get(label):
                    p("  # %s (%d)" % (label, len(by_cause[label])))
                    for line in by_cause[label]:
                        p("    " + line)
        p("")
        p("== Tcl failures directly (the suite's own baseline) ==")
        for c in configs:
            if c in BASELINE:
                continue
            n = 0
            for u in units:
                for status, name, msg in res[(c, u)].failed:
                    p("  %s %s: %s: %s" % (c, u, name, " | ".join(brief(msg))[:300]))
                    n += 1
            if not n:
                p("  %s: none" % c)
        p("")

    path = os.path.join(a.out, "clients", "results")
    if os.path.exists(path):
        results = collections.OrderedDict()
        details = []
        for line in open(path, errors="replace"):
            f = line.rstrip("\n").split(" ", 6)
            if len(f) < 6 or f[0] != "RESULT":
                continue
            client, proto, target, step, status = f[1:6]
            detail = f[6] if len(f) > 6 else ""
            key = (client, proto)
            results.setdefault(key, collections.OrderedDict()).setdefault(target, []).append((step, status, detail))
            if status != "PASS":
                details.append("  %s %s %s %s %s %s" % (client, proto, target, step, status, detail[:300]))
        targets = ["direct", "proxy", "proxy-cluster", "direct-cluster", "proxy-cluster-emu"]
        p("== Client libraries: steps passed / steps run ==")
        p("direct, proxy, proxy-cluster: standalone clients; direct-cluster, proxy-cluster-emu: cluster clients")
        p("(redis-py-cluster is redis-py's RedisCluster). Steps: connect, hello3 (RESP3 only), set_get, mget,")
        p("hset_hgetall, pipeline, multi_exec, pubsub, lua, slots (cluster only).")
        p("")
        rows = []
        for (client, proto), by_target in results.items():
            row = [client, proto]
            for t in targets:
                steps = by_target.get(t) or by_target.get("all")
                if not steps:
                    row.append("")
                elif all(s[1] == "SKIP" for s in steps):
                    row.append("skip")
                else:
                    passed = sum(1 for s in steps if s[1] == "PASS")
                    row.append("%d/%d" % (passed, len(steps)) + ("" if passed == len(steps) else " ✗"))
            rows.append(row)
        p(table(rows, ["client", "protocol"] + targets))
        p("")
        p("Client steps that did not pass:")
        p("\n".join(details) if details else "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
