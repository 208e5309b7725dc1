#!/usr/bin/env python3
"""Failover of a three-node cluster, step by step (docs/operations.md, "Measured failover").

Starts a PostgreSQL of its own (Debian's binaries; as root it runs as nobody) and three nodes from
--jar, publishes /mpub batches of 100 through node 1 to a topic hosted by another node, SIGKILLs
that node (or the oldest, node 1, with --victim oldest: then through node 3) and prints when
publishing was served again, the slowest answer meanwhile, and where the time went, read from the
nodes' logs (Pekko's cluster and sharding at debug). Rounds after the first restart the killed node.

  python3 deploy/measure-failover.py --jar target/herald.jar [--rounds 3] [--victim other|oldest]
"""
import argparse, datetime, glob, http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time

LOGBACK = """<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{30} - %msg%n</pattern></encoder>
  </appender>
  <logger name="herald" level="INFO"/>
  <logger name="org.apache.pekko" level="INFO"/>
  <logger name="org.apache.pekko.cluster.sharding.DDataShardCoordinator" level="DEBUG"/>
  <logger name="org.apache.pekko.cluster.sharding.Shard" level="DEBUG"/>
  <logger name="org.apache.pekko.io.TcpListener" level="OFF"/>
  <root level="WARN"><appender-ref ref="OUT"/></root>
</configuration>
"""

# What each step looks like in a survivor's log ({a}: the killed node's cluster address).
STEPS = [
    ("unreachable", r"Marking node as UNREACHABLE \[Member\({a}"),
    ("downed", r"Marking unreachable node \[{a}\] as \[Down\]"),
    ("removed", r"Leader is removing unreachable node \[{a}\]"),
    ("shards let go", r"broker: ShardRegion terminated: \[Actor\[{a}/"),
    ("topic started", r"Started entity .* with entity id \[t\|{t}\]"),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Postgres:
    def __init__(self, base):
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.dir = os.path.join(base, "pg")
        os.makedirs(self.dir)
        self.port = free_port()
        if os.geteuid() == 0:
            os.chmod(base, 0o755)
            shutil.chown(self.dir, "nobody")
        self.run("initdb", "-D", self.dir + "/data", "-U", "herald", "-A", "trust", "--no-sync", "-E", "UTF8")
        self.run("pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/log", "-w", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200", "start")
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "herald", "herald")

    def run(self, tool, *args):
        cmd = (["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []) + [os.path.join(self.bin, tool), *args]
        subprocess.run(cmd, check=True, capture_output=True)

    def stop(self):
        self.run("pg_ctl", "-D", self.dir + "/data", "-m", "immediate", "-w", "stop")


class Node:
    def __init__(self, args, base, pg, i, join):
        self.args, self.base, self.pg, self.i, self.join = args, base, pg, i, join
        self.http, self.cluster = free_port(), free_port()
        self.log = os.path.join(base, f"node{i}.log")
        self.proc = None

    def start(self):
        cmd = ["java", "-Xmx512m", "-Dlogback.configurationFile=" + os.path.join(self.base, "logback.xml"),
               "-Dpekko.loglevel=DEBUG", "-jar", self.args.jar,
               "--http-address", f"127.0.0.1:{self.http}", "--tcp-address", "127.0.0.1:0",
               "--cluster-address", f"127.0.0.1:{self.cluster}", "--data-path", os.path.join(self.base, f"data{self.i}"),
               "--journal", "postgres", "--postgres-url", f"jdbc:postgresql://127.0.0.1:{self.pg.port}/herald",
               "--postgres-user", "herald", "--passivate-idle-after", "30m", "--join", self.join]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                if request(self.http, "GET", "/ping")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                sys.exit(f"node {self.i} exited; see {self.log}")
            time.sleep(0.2)
        sys.exit(f"node {self.i} did not start; see {self.log}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def up_members(node):
    return sum(1 for n in json.loads(request(node.http, "GET", "/cluster/nodes")[1])["nodes"] if n["status"] == "up")


def clock(line):
    h, m, s = line[:12].split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def breakdown(nodes, victim, topic, killed_at):
    """Seconds after the kill at which each step first shows in a survivor's log."""
    day = datetime.datetime.fromtimestamp(killed_at)
    kill = day.hour * 3600 + day.minute * 60 + day.second + day.microsecond / 1e6
    address = re.escape(f"pekko://herald@127.0.0.1:{victim.cluster}")
    found = {}
    for n in nodes:
        if n is victim:
            continue
        for line in open(n.log, errors="replace"):
            if not re.match(r"\d\d:\d\d:\d\d\.\d{3} ", line) or clock(line) < kill:
                continue
            for name, pattern in STEPS:
                if re.search(pattern.format(a=address, t=re.escape(topic)), line):
                    found[name] = min(found.get(name, 1e9), clock(line) - kill)
    return ", ".join(f"{name} {found[name]:.2f} s" if name in found else f"{name} ?" for name, _ in STEPS)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jar", default="target/herald.jar")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--victim", choices=["other", "oldest"], default="other")
    args = p.parse_args()
    base = tempfile.mkdtemp(prefix="herald-failover-")
    with open(os.path.join(base, "logback.xml"), "w") as f:
        f.write(LOGBACK)
    pg = Postgres(base)
    seeds = [free_port() for _ in range(3)]
    nodes = []
    try:
        first = Node(args, base, pg, 1, "")
        nodes.append(first)
        first.start()
        for i in (2, 3):
            nodes.append(Node(args, base, pg, i, f"127.0.0.1:{first.cluster}"))
            nodes[-1].start()
        while up_members(nodes[2]) < 3:
            time.sleep(0.5)
        for rnd in range(args.rounds):
            oldest = args.victim == "oldest"
            entry = nodes[2] if oldest else nodes[0]
            for t in range(16):
                request(entry.http, "POST", f"/topic/create?topic=r{rnd}-{t}")
                request(entry.http, "POST", f"/channel/create?topic=r{rnd}-{t}&channel=billing")
            victim = nodes[0] if oldest else nodes[1]
            for _ in range(120):
                stats = json.loads(request(entry.http, "GET", "/stats?format=json")[1])
                on_victim = [t["topic_name"] for t in stats["topics"]
                             if t["topic_name"].startswith(f"r{rnd}-") and t.get("node") == f"127.0.0.1:{victim.http}"]
                if on_victim:
                    break
                time.sleep(0.5)
            else:
                sys.exit("no topic on the node to kill")
            topic = on_victim[0]
            acked, killed, again, slowest, answers, stop = [0], [0.0], [0.0], [0.0], [], [False]

            def publish():
                b = 0
                while not stop[0]:
                    body = "".join(f"m-{b}-{j}\n" for j in range(100))
                    sent = time.time()
                    try:
                        status = request(entry.http, "POST", f"/mpub?topic={topic}", body, timeout=60)[0]
                    except OSError as e:
                        status = type(e).__name__
                    now = time.time()
                    if killed[0]:
                        slowest[0] = max(slowest[0], now - sent)
                        answers.append((sent - killed[0], now - killed[0], status))
                    if status == 200:
                        acked[0] += 100
                        b += 1
                        # Served again: a publish sent after the kill (one sent before may be answered just after it).
                        if killed[0] and sent > killed[0] and not again[0]:
                            again[0] = now

            publisher = threading.Thread(target=publish)
            publisher.start()
            while acked[0] < 3000:
                time.sleep(0.05)
            victim.proc.kill()
            victim.proc.wait()
            killed[0] = time.time()
            while not again[0] and time.time() - killed[0] < 120:
                time.sleep(0.1)
            stop[0] = True
            publisher.join()
            failed = [(round(s, 1), round(a, 1), st) for s, a, st in answers if st != 200]
            print(f"round {rnd + 1}: SIGKILL of node {victim.i} ({args.victim}), topic {topic}: served again "
                  f"{again[0] - killed[0]:.1f} s after, slowest answer meanwhile {slowest[0]:.1f} s, "
                  f"failed (sent, answered, status): {failed}")
            print(f"  from the logs: {breakdown(nodes, victim, topic, killed[0])}", flush=True)
            if rnd + 1 < args.rounds:
                if oldest:
                    victim.join = f"127.0.0.1:{nodes[2].cluster}"
                victim.start()
                while up_members(nodes[2]) < 3:
                    time.sleep(0.5)
    finally:
        for n in nodes:
            if n.alive():
                n.proc.kill()
        pg.stop()
    print("logs in", base)


if __name__ == "__main__":
    main()
