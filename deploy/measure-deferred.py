#!/usr/bin/env python3
"""Many REQ-deferred messages on one node: heap, the journal write per progress tick, restart time.

Publishes N messages to a fresh node (LevelDB), and a consumer (NSQ's TCP protocol, so this needs
nothing but Python) requeues every one with a long delay. Then it reads the heap after a full GC,
measures what one progress write adds to the journal while N messages are deferred (FINs of
single messages, one per tick), kills the node with SIGKILL, starts it again and times /ping and
the moment /stats shows all N deferred again. Prints the figures; docs/operations.md has a run.

  python3 deploy/measure-deferred.py --jar target/herald.jar --messages 1000000 --heap 512m

The two halves can run apart (filling as shared load, the restart on a quiet machine):
  --phase fill --data-path DIR     fills, measures, SIGKILLs and keeps DIR
  --phase restart --data-path DIR  starts on DIR after that SIGKILL and times it
"""
import argparse, http.client, json, os, re, shutil, signal, socket, struct, sys, tempfile, threading, time

from nodemeasure import Nodes, heap_used_mb, wait

TOPIC, CHANNEL = "later", "workers"


def request(port, method, path, body=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body if body is not None else (b"" if method == "POST" else None))
    r = c.getresponse()
    return r.status, r.read()


def channel_stats(port):
    status, body = request(port, "GET", f"/stats?format=json&topic={TOPIC}&channel={CHANNEL}")
    topic = json.loads(body)["topics"][0]
    return next(c for c in topic["channels"] if c["channel_name"] == CHANNEL)


def files(path):
    return {f: os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)}


def disk_written(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(re.search(r"^write_bytes: (\d+)", f.read(), re.M).group(1))


def log_bytes(journal):
    """What LevelDB's write-ahead logs hold: leveldbjni maps them in 64 KB steps, zeros past the end."""
    out = {}
    for f in os.listdir(journal):
        if f.endswith(".log"):
            with open(os.path.join(journal, f), "rb") as fh:
                out[f] = len(fh.read().rstrip(b"\0"))
    return out


class NsqConsumer:
    """SUB over NSQ's TCP protocol V2; answers heartbeats."""

    def __init__(self, port, rdy):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.sendall(b"  V2" + f"SUB {TOPIC} {CHANNEL}\n".encode())
        self.buf = b""
        kind, data = self.frame()
        if kind != 0 or data != b"OK":
            sys.exit(f"SUB failed: {kind} {data}")
        self.sock.sendall(f"RDY {rdy}\n".encode())

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        size, kind = struct.unpack(">ii", self.read(8))
        return kind, self.read(size - 4)

    def messages(self, n):
        """The ids and attempts of the next n messages."""
        out = []
        while len(out) < n:
            kind, data = self.frame()
            if kind == 0 and data == b"_heartbeat_":
                self.sock.sendall(b"NOP\n")
            elif kind == 1:
                sys.exit(f"error frame: {data}")
            elif kind == 2:
                attempts = struct.unpack(">H", data[8:10])[0]
                out.append((data[10:26].decode(), attempts))
        return out

    def send(self, commands):
        self.sock.sendall("".join(commands).encode())

    def close(self):
        self.sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--jar", default="target/herald.jar")
    p.add_argument("--messages", type=int, default=1000000)
    p.add_argument("--size", type=int, default=100, help="body bytes")
    p.add_argument("--heap", default="512m")
    p.add_argument("--delay", default="86400000", help="REQ delay in ms; the node is started with --max-req-timeout 24h")
    p.add_argument("--http-port", type=int, default=4291)
    p.add_argument("--tcp-port", type=int, default=4290)
    p.add_argument("--phase", choices=["all", "fill", "restart"], default="all")
    p.add_argument("--data-path", help="kept after the run when given; default: a temporary one, removed")
    a = p.parse_args()
    data = a.data_path or tempfile.mkdtemp(prefix="herald-deferred-")
    os.makedirs(data, exist_ok=True)
    cmd = ["java", f"-Xmx{a.heap}", "-jar", a.jar, "--http-address", f"127.0.0.1:{a.http_port}",
           "--tcp-address", f"127.0.0.1:{a.tcp_port}", "--data-path", data, "--max-req-timeout", "24h"]
    with Nodes(cmd, os.path.join(data, "node.log"), a.http_port) as nodes:
        if a.phase != "restart":
            fill(a, data, nodes.start)
        if a.phase != "fill":
            restart(a, nodes.start)
    if not a.data_path:
        shutil.rmtree(data, ignore_errors=True)


def fill(a, data, start):
    proc, up = start()
    print(f"fresh node up in {up:.1f} s (-Xmx{a.heap})")
    assert request(a.http_port, "POST", f"/topic/create?topic={TOPIC}")[0] == 200
    assert request(a.http_port, "POST", f"/channel/create?topic={TOPIC}&channel={CHANNEL}")[0] == 200

    t0 = time.time()
    batch = 500
    bodies = [b"x" * (a.size - 8) + b"%08d" % i for i in range(batch)]
    payload = b"\n".join(bodies)
    batches = (a.messages + batch - 1) // batch
    lock = threading.Lock()
    left = [batches]

    def publish():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
                n = min(batch, a.messages - (batches - 1 - left[0]) * batch)
            body = payload if n == batch else b"\n".join(bodies[:n])
            status, answer = request(a.http_port, "POST", f"/mpub?topic={TOPIC}", body)
            if status != 200:
                sys.exit(f"/mpub: {status} {answer[:200]}")

    publishers = [threading.Thread(target=publish) for _ in range(8)]
    for t in publishers: t.start()
    for t in publishers: t.join()
    print(f"published {a.messages} messages of {a.size} bytes in {time.time() - t0:.0f} s")

    t0 = time.time()
    consumer = NsqConsumer(a.tcp_port, 2500)
    done = 0
    while done < a.messages:
        got = consumer.messages(min(1000, a.messages - done))
        consumer.send([f"REQ {msg_id} {a.delay}\n" for msg_id, _ in got])
        done += len(got)
    idle = wait(f"{a.messages} deferred", lambda: channel_stats(a.http_port)["deferred_count"] == a.messages, 600)
    print(f"{a.messages} requeued with a {a.delay} ms delay in {time.time() - t0:.0f} s "
          f"(the last counted deferred {idle:.1f} s after the last REQ)")

    # Let the last progress writes land, then compare heaps: after a full GC.
    time.sleep(2)
    print(f"heap used after a full GC with {a.messages} deferred: {heap_used_mb(proc.pid):.0f} MB (-Xmx{a.heap})")

    # One progress write per tick: publish k messages, then FIN one per 300 ms (the tick is 100 ms).
    journal = os.path.join(data, "journal")
    k = 40
    assert request(a.http_port, "POST", f"/mpub?topic={TOPIC}", b"\n".join(bodies[:k]))[0] == 200
    fresh = consumer.messages(k)
    time.sleep(1)
    before = log_bytes(journal)
    disk_before = disk_written(proc.pid)
    for msg_id, _ in fresh:
        consumer.send([f"FIN {msg_id}\n"])
        time.sleep(0.3)
    time.sleep(1)
    after = log_bytes(journal)
    disk = disk_written(proc.pid) - disk_before
    print(f"{k} progress writes: the node wrote {disk / 1e6:.2f} MB to disk meanwhile ({disk / k / 1e3:.1f} KB per "
          f"write: whole pages, LevelDB's compactions and snapshots included)")
    if set(before) != set(after) or any(after[f] < before[f] for f in before):
        print(f"LevelDB started a new log during the measurement (before {before}, after {after}): run again")
    else:
        grown = sum(after.values()) - sum(before.values())
        print(f"{k} progress writes (one FIN each, {a.messages} deferred): journal +{grown} bytes, "
              f"{grown / k:.0f} bytes per write")
    print(f"journal {sum(files(journal).values()) / 1e6:.1f} MB, "
          f"snapshots {sum(files(os.path.join(data, 'snapshots')).values()) / 1e6:.1f} MB on disk")
    consumer.close()
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def restart(a, start):
    proc, up = start()
    print(f"after SIGKILL: node up (answers /ping) in {up:.1f} s")
    t0 = time.time()
    wait(f"/stats to show {a.messages} deferred",
         lambda: channel_stats(a.http_port)["deferred_count"] == a.messages, 600, step=0.1)
    print(f"after SIGKILL: all {a.messages} deferred again {time.time() - t0:.1f} s after /ping "
          f"({up + time.time() - t0:.1f} s after java started); "
          f"heap used after a full GC: {heap_used_mb(proc.pid):.0f} MB")
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
