#!/usr/bin/env python3
"""Two variants of a node or a load, A and B, measured in alternating pairs: B / A per pair.

Made for issue 14's question (what do message ids cost?) and used for before/after comparisons of
jars and JVM options. Every run gets a fresh node (new data directory, new JVM), so no run inherits
another's journal, compactions or heap; each node is warmed up on two other topics, one without ids
and one with (so the JIT has compiled both paths whatever is measured), then measured once with
`herald bench`. The order alternates from pair to pair (A B, B A, A B, ...), so whatever favours a
place in the sequence falls on both alike. Per run: acknowledged msgs/s, ack p99 and the node's CPU
time (utime + stime from /proc) per acknowledged message, and how much of it the JIT compiler's
threads took (a fresh node still compiles for minutes on 2 busy cores, and that CPU is per second,
not per message: a slower run spreads it over fewer messages); at the end every pair's ratios, their
mean and spread.

  deploy/measure-pairs.py [--batch 100] [--pairs 4] [--duration 10] [--warm 5] [--publishers 32]
                          [--mpub-binary] [--b-first] A B

A and B are variants: ';'-separated items of `ids` (publish with ids, `--msg-id-from sequence`),
`jar=PATH` (default target/herald.jar), `jvm=OPTIONS` (default -Xmx1g) and `args=NODE OPTIONS`
(such as `args=--dedup-window 0`). Examples:

  deploy/measure-pairs.py '' ids                                   # what ids cost on /mpub x 100
  deploy/measure-pairs.py --batch 1 '' ids                         # ... on /pub
  deploy/measure-pairs.py 'jar=/tmp/old.jar' 'jar=target/herald.jar'
  deploy/measure-pairs.py '' 'jvm=-Xmx1g -XX:G1HeapRegionSize=4m'

--batch 1 measures /pub (ids in X-Herald-Msg-Id), larger batches /mpub: with ids in the binary layout
with ids, without ids in the text layout, or with --mpub-binary in NSQ's binary layout (so that ids
against none compares the same layout: only the ids' own bytes differ). Per run it also prints the
bench client's CPU per message, how busy the machine's cores were and the hypervisor's steal (from
/proc/stat; busy does not include steal, both are shares of all the cores' time, as in deploy/measure.sh),
since the client shares the machine with the node. By hand, under quiet-run.
"""
import argparse, json, os, resource, shutil, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nodemeasure import Nodes  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def variant(spec):
    v = {"jar": "target/herald.jar", "jvm": "-Xmx1g", "args": "", "ids": False}
    for item in filter(None, (i.strip() for i in spec.split(";"))):
        if item == "ids":
            v["ids"] = True
        elif item.split("=", 1)[0] in ("jar", "jvm", "args"):
            key, value = item.split("=", 1)
            v[key] = value
        else:
            sys.exit(f"unknown item {item!r} in variant {spec!r}")
    v["name"] = spec or "(default)"
    return v


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def jit_seconds(pid):
    """CPU seconds of the node's JIT compiler threads ("C1/C2 CompilerThre...") alive now."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        if stat[stat.index("(") + 1:].startswith(("C1 Compiler", "C2 Compiler")):
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def children_cpu():
    """CPU seconds of the finished child processes (the bench runs), user + system."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_ticks():
    """(busy, steal, total) jiffies of all cores, from /proc/stat: busy is user, nice, system, irq and
    softirq (steal not in it, as in deploy/measure.sh); total is those with idle, iowait and steal (guest
    time is counted in user already)."""
    user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in open("/proc/stat").readline().split()[1:9])
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def bench(a, jar, port, topic, seconds, ids):
    cmd = ["java", "-jar", jar, "bench", "--http", f"127.0.0.1:{port}", "--topic", topic,
           "--duration", f"{seconds}s", "--batch", str(a.batch), "--publishers", str(a.publishers), "--json"]
    if ids:
        cmd += ["--msg-id-from", "sequence"]
    if a.mpub_binary:
        cmd += ["--mpub-binary"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        sys.exit(f"bench printed no result: {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def one_run(a, v):
    """A fresh node of variant v, warmed up, then one measured run."""
    data = tempfile.mkdtemp(prefix="measure-pairs-")
    port = free_port()
    cmd = (["java"] + v["jvm"].split() + ["-jar", v["jar"], "--data-path", data, "--http-address", f"127.0.0.1:{port}",
                                           "--tcp-address", "127.0.0.1:0"]
           + v["args"].split())
    try:
        with Nodes(cmd, data + ".log", port) as nodes:
            proc, _ = nodes.start()
            bench(a, v["jar"], port, "warmnone", a.warm, False)
            bench(a, v["jar"], port, "warmids", a.warm, True)
            subprocess.run(["sync"])
            before, jit_before, client_before, ticks_before = cpu_seconds(proc.pid), jit_seconds(proc.pid), children_cpu(), machine_ticks()
            r = bench(a, v["jar"], port, "measured", a.duration, v["ids"])
            used = cpu_seconds(proc.pid) - before
            jit = jit_seconds(proc.pid) - jit_before
            client = children_cpu() - client_before
            busy, steal, total = (x - y for x, y in zip(machine_ticks(), ticks_before))
        os.remove(data + ".log")
    finally:
        shutil.rmtree(data, ignore_errors=True)
    acked = r["acknowledged"]
    return {"rate": r["publish_msgs_per_s"], "p99": r["ack_latency_ms"].get("p99"),
            "cpu_us": used * 1e6 / acked if acked else float("nan"),
            "jit_us": jit * 1e6 / acked if acked else float("nan"),
            "client_us": client * 1e6 / acked if acked else float("nan"), "busy": busy / total if total else float("nan"),
            "steal": steal / total if total else float("nan"),
            "errors": r["errors"], "missing": r["missing"]}


def describe(run):
    errors = f", errors {run['errors']}" if run["errors"] else ""
    missing = f", {run['missing']} MISSING" if run["missing"] else ""
    return (f"{run['rate']:,.0f} msgs/s, p99 {run['p99']:.1f} ms, {run['cpu_us']:.1f} µs CPU/msg "
            f"(JIT {run['jit_us']:.1f}, client {run['client_us']:.1f} µs, cores {run['busy']:.0%} busy, {run['steal']:.0%} steal){errors}{missing}")


def spread(values):
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"mean {mean:.3f}, sd {sd:.3f}, min {min(values):.3f}, max {max(values):.3f} (n={len(values)})"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warm", type=int, default=5)
    p.add_argument("--publishers", type=int, default=32)
    p.add_argument("--mpub-binary", action="store_true", help="/mpub without ids in NSQ's binary layout, not text")
    p.add_argument("--b-first", action="store_true", help="the first pair runs B first (to continue an earlier run's alternation)")
    p.add_argument("a")
    p.add_argument("b")
    a = p.parse_args()
    variants = {"A": variant(a.a), "B": variant(a.b)}
    load = lambda: " ".join(open("/proc/loadavg").read().split()[:3])
    now = lambda: time.strftime("%H:%M:%S", time.gmtime())
    what = "/pub" if a.batch == 1 else f"/mpub x {a.batch}" + (" (binary layout)" if a.mpub_binary else "")
    print(f"{what}, {a.publishers} publishers, {a.duration} s per run after {a.warm} + {a.warm} s of warm-up; "
          f"A = {variants['A']}, B = {variants['B']}; load average {load()}; {now()} UTC", flush=True)
    print("| pair | order | A | B | B / A msgs/s | B / A CPU per msg | B / A CPU per msg without JIT |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    ratios, cpu_ratios, nojit_ratios = [], [], []
    for i in range(a.pairs):
        order = ("B", "A") if (i % 2 == 0) == a.b_first else ("A", "B")
        runs = {name: one_run(a, variants[name]) for name in order}
        ratio = runs["B"]["rate"] / runs["A"]["rate"]
        cpu_ratio = runs["B"]["cpu_us"] / runs["A"]["cpu_us"]
        nojit = lambda r: r["cpu_us"] - r["jit_us"]
        nojit_ratio = nojit(runs["B"]) / nojit(runs["A"])
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        nojit_ratios.append(nojit_ratio)
        print(f"| {i + 1} | {' '.join(order)} | {describe(runs['A'])} | {describe(runs['B'])} | {ratio:.2f} | {cpu_ratio:.2f} "
              f"| {nojit_ratio:.2f} |", flush=True)
    print(f"B / A msgs/s: {spread(ratios)}")
    print(f"B / A node CPU per message: {spread(cpu_ratios)}")
    print(f"B / A node CPU per message without the JIT compiler's threads: {spread(nojit_ratios)}")
    print(f"load average after: {load()}; {now()} UTC")


if __name__ == "__main__":
    main()
