#!/usr/bin/env python3
"""Many idle topics on one node: heap, /stats time, and start-up time after a SIGKILL.

Creates N topics with one channel each on a fresh node (LevelDB), many requests at a time (the
journal group-commits, so concurrency, not fsync, sets the pace), waits until all of them have
passivated, reads the heap after a full GC, kills the node with SIGKILL, starts it again and
times /ping and the first /stats listing all N. Prints the figures; docs/operations.md has a run.

  python3 deploy/measure-idle-topics.py --jar target/herald.jar --topics 100000 --heap 1g

The two halves can run apart (the long creation as shared load, the restart on a quiet machine):
  --phase create --data-path DIR   creates, measures, SIGKILLs and keeps DIR
  --phase restart --data-path DIR  starts on DIR after that SIGKILL and times it
"""
import argparse, http.client, json, os, shutil, signal, tempfile, threading, time

from nodemeasure import Nodes, heap_used_mb, wait


def request(conn, method, path):
    conn.request(method, path, body=b"" if method == "POST" else None)
    r = conn.getresponse()
    return r.status, r.read()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--jar", default="target/herald.jar")
    p.add_argument("--topics", type=int, default=100000)
    p.add_argument("--heap", default="1g")
    p.add_argument("--idle", default="10s", help="--passivate-idle-after for the run")
    p.add_argument("--port", type=int, default=4199)
    p.add_argument("--threads", type=int, default=64, help="requests at a time while creating")
    p.add_argument("--phase", choices=["all", "create", "restart"], default="all")
    p.add_argument("--data-path", help="kept after the run when given; default: a temporary one, removed")
    a = p.parse_args()
    data = a.data_path or tempfile.mkdtemp(prefix="herald-idle-")
    os.makedirs(data, exist_ok=True)
    cmd = ["java", f"-Xmx{a.heap}", "-jar", a.jar, "--http-address", f"127.0.0.1:{a.port}",
           "--tcp-address", "127.0.0.1:0", "--data-path", data, "--passivate-idle-after", a.idle]

    def stats():
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=300)
        t0 = time.time()
        status, body = request(c, "GET", "/stats?format=json")
        topics = json.loads(body)["topics"] if status == 200 else []
        return time.time() - t0, topics

    def entities():
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
        return sum(n["entities"] for n in json.loads(request(c, "GET", "/cluster/nodes")[1])["nodes"])

    with Nodes(cmd, os.path.join(data, "node.log"), a.port) as nodes:
        if a.phase != "restart":
            create_and_kill(a, nodes.start, stats, entities)
        if a.phase != "create":
            restart(a, nodes.start, stats, entities)
    if not a.data_path:
        shutil.rmtree(data, ignore_errors=True)


def create_and_kill(a, start, stats, entities):
    proc, up = start()
    print(f"fresh node up in {up:.1f} s")
    t0 = time.time()
    errors = []
    retried = []

    def create(first):
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
        for i in range(first, a.topics, a.threads):
            for path in (f"/topic/create?topic=idle-{i}", f"/channel/create?topic=idle-{i}&channel=c"):
                for attempt in range(5):  # a 503 asks to retry (the ask timed out); creating is idempotent
                    status, body = request(c, "POST", path)
                    if status != 503:
                        break
                    retried.append(path)
                if status != 200:
                    errors.append(f"{path}: {status} {body[:100]}")

    threads = [threading.Thread(target=create, args=(t,)) for t in range(a.threads)]
    for t in threads: t.start()
    for t in threads: t.join()
    created = time.time() - t0
    print(f"created {a.topics} topics with a channel each in {created:.0f} s ({2 * a.topics / created:.0f} requests/s, {a.threads} at a time), "
          f"{len(retried)} retried after a 503, {len(errors)} errors {errors[:3]}")
    idle = wait("every topic and channel passivated", lambda: entities() == 0, 3600)
    print(f"all passivated {idle:.0f} s later; heap used after a full GC: {heap_used_mb(proc.pid):.0f} MB (-Xmx{a.heap})")
    took, topics = stats()
    print(f"/stats: {len(topics)} topics in {took:.1f} s, states {sorted({t.get('state') for t in topics})}")

    proc.send_signal(signal.SIGKILL)
    proc.wait()


def restart(a, start, stats, entities):
    proc, up = start()
    print(f"after SIGKILL: node up (answers /ping) in {up:.1f} s")
    t0 = time.time()
    wait(f"/stats lists {a.topics} topics with their figures",
         lambda: (lambda ts: len(ts) == a.topics and all(t.get("state") == "idle" for t in ts))(stats()[1]), 600)
    print(f"after SIGKILL: /stats lists all {a.topics}, each idle with its figures, {time.time() - t0:.1f} s after /ping; "
          f"entities running {entities()}; heap used after a full GC: {heap_used_mb(proc.pid):.0f} MB")
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
