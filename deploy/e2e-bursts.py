#!/usr/bin/env python3
"""What stands still when end-to-end requests are late: deploy/e2e-bursts.sh's trace, read.

  deploy/e2e-bursts.py OUTDIR [THRESHOLD_MS]   (default 15)

Groups the bench's late requests (--slow-log: e2e above THRESHOLD_MS, due within 40 ms of each other)
into bursts and prints, for each burst from its first due time to its last delivery: what each CPU
ran (ms, by process and thread name: node:, bench:, otherjvm:, k/other:), runs longer than 3 ms,
the threads that waited longest runnable (woken -> on a CPU), block requests, and the safepoints of
either JVM in it. Then a timeline: per second of the trace, CPU ms of the node's and the bench's
application threads, JIT compilers and GC threads, everything else, idle; and the late requests due
in that second.
"""
import collections
import re
import subprocess
import sys

out = sys.argv[1]
threshold = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
node_pid = int(open(f"{out}/node.pid").read())
try:
    bench_pid = int(open(f"{out}/bench.pid").read())
except FileNotFoundError:
    bench_pid = -1

# requests: (publisher, request) -> (due, worst e2e of its messages)
requests = {}
for line in open(f"{out}/slow.txt"):
    kind, due, latency, publisher, seq = line.split()
    if kind != "e2e":
        continue
    key = (int(publisher), int(seq) // 100)
    d, l = float(due), float(latency)
    if key not in requests or l > requests[key][1]:
        requests[key] = (d, l)
late = sorted(v for v in requests.values() if v[1] > threshold)
bursts = []
for d, l in late:
    if bursts and d - bursts[-1]["last_due"] < 0.040:
        b = bursts[-1]
        b["last_due"] = d
        b["end"] = max(b["end"], d + l / 1000)
        b["n"] += 1
        b["max"] = max(b["max"], l)
    else:
        bursts.append(dict(start=d, last_due=d, end=d + l / 1000, n=1, max=l))

script = subprocess.run(["perf", "script", "-i", f"{out}/perf.data", "-F", "comm,pid,tid,cpu,time,event,trace"],
                        capture_output=True, text=True).stdout
event_re = re.compile(r"^\s*(.+?)\s+(-?\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")
switch_re = re.compile(r"prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)")
wakeup_re = re.compile(r"comm=(.*?) pid=(\d+) prio=\d+ target_cpu=(\d+)")
tgid, comm = {}, {}
switches, wakeups, block = [], [], []
for line in script.splitlines():
    m = event_re.match(line)
    if not m:
        continue
    c, pid, tid, cpu, t, event, trace = m.groups()
    pid, tid, cpu, t = int(pid), int(tid), int(cpu), float(t)
    tgid[tid] = pid
    comm[tid] = c.strip()
    if event == "sched:sched_switch":
        s = switch_re.search(trace)
        if s:
            comm[int(s.group(2))] = s.group(1)
            comm[int(s.group(5))] = s.group(4)
            switches.append((t, cpu, int(s.group(5))))
    elif event in ("sched:sched_wakeup", "sched:sched_wakeup_new"):
        s = wakeup_re.search(trace)
        if s:
            comm[int(s.group(2))] = s.group(1)
            wakeups.append((t, int(s.group(2))))
    elif event.startswith("block:"):
        block.append(t)
threads_of = collections.Counter(tgid[t] for t in set(tgid))


def who(tid):
    if tid == 0:
        return "<idle>"
    pid, name = tgid.get(tid), re.sub(r"\d+$", "#", comm.get(tid, "?"))
    if pid == node_pid:
        return "node:" + name
    if pid == bench_pid:
        return "bench:" + name
    if pid is not None and threads_of[pid] > 20:
        return "otherjvm:" + name
    return "k/other:" + name


def group(w):
    if ":" not in w:
        return w
    side, name = w.split(":", 1)
    if side in ("node", "bench"):
        if "Compiler" in name:
            return side + "-jit"
        if name.startswith(("GC ", "G1 ", "VM Thread")):
            return side + "-gc"
    return side


runs, on_cpu = [], {}  # (start, end, cpu, tid)
for t, cpu, next_tid in switches:
    if cpu in on_cpu:
        runs.append((on_cpu[cpu][0], t, cpu, on_cpu[cpu][1]))
    on_cpu[cpu] = (t, next_tid)
woken, waits = {}, []  # (woken at, on cpu at, tid)
for t, kind, tid in sorted([(t, 0, tid) for t, tid in wakeups] + [(t, 1, tid) for t, _, tid in switches]):
    if kind == 0:
        woken.setdefault(tid, t)
    elif tid in woken:
        waits.append((woken.pop(tid), t, tid))


def safepoints(path):
    found = []
    try:
        for line in open(path):
            m = re.search(r"\[(\d+)ns\].*?Safepoint \"(\w+)\".*Total: (\d+) ns", line)
            if m:
                end, total = int(m.group(1)) / 1e9, int(m.group(3)) / 1e9
                found.append((end - total, end, m.group(2)))
    except FileNotFoundError:
        pass
    return found


pauses = {"node": safepoints(f"{out}/node-jvm.log"), "bench": safepoints(f"{out}/bench-jvm.log")}


def cpu_use(a, b):
    per_cpu = collections.defaultdict(collections.Counter)
    for s0, e0, cpu, tid in runs:
        if e0 >= a and s0 <= b:
            per_cpu[cpu][who(tid)] += min(e0, b) - max(s0, a)
    return per_cpu


print(f"{len(requests)} requests later than the slow log's threshold, {len(late)} later than {threshold} ms, {len(bursts)} bursts")
for b in bursts:
    a, e = b["start"] - 0.005, b["end"]
    print(f"\n=== burst at {b['start']:.3f}: {b['n']} requests > {threshold} ms, worst {b['max']:.1f} ms, {(e - a) * 1000:.0f} ms window")
    for cpu, use in sorted(cpu_use(a, e).items()):
        print(f"  cpu{cpu}: " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in use.most_common(8)))
    for s0, e0, cpu, tid in runs:
        if e0 >= a and s0 <= e and e0 - s0 > 0.003 and tid != 0:
            print(f"    ran {(e0 - s0) * 1000:.1f} ms on cpu{cpu}: {who(tid)} [{tid}] from {s0:.4f}")
    for w, r, tid in sorted(((w, r, tid) for w, r, tid in waits if a <= w <= e), key=lambda x: x[0] - x[1])[:6]:
        print(f"    waited runnable {(r - w) * 1000:.1f} ms from {w:.4f}: {who(tid)} [{tid}]")
    print(f"    block requests issued or completed: {sum(1 for t in block if a <= t <= e)}")
    for side, found in pauses.items():
        for s0, e0, name in found:
            if e0 >= a and s0 <= e and e0 - s0 > 0.0005:
                print(f"    {side} safepoint {name} {(e0 - s0) * 1000:.1f} ms from {s0:.4f}")

if runs:
    t0 = runs[0][0]
    per_second = collections.defaultdict(collections.Counter)
    for s0, e0, cpu, tid in runs:
        g, s = group(who(tid)), s0
        while s < e0:
            k = int(s - t0)
            nxt = min(e0, t0 + k + 1)
            per_second[k][g] += nxt - s
            s = nxt
    names = ["node", "node-jit", "node-gc", "bench", "bench-jit", "bench-gc", "k/other", "otherjvm", "<idle>"]
    print(f"\nCPU ms per second of the trace (from {t0:.3f}), and requests later than {threshold} ms due in it")
    print("  s " + "".join(f"{n:>10}" for n in names) + "      late")
    for k in sorted(per_second):
        n = sum(1 for d, _ in late if int(d - t0) == k)
        print(f"{k:3d} " + "".join(f"{per_second[k][g] * 1000:10.0f}" for g in names) + f"{n:10d}")
