#!/usr/bin/env python3
"""Failover of a three-node cluster, step by step (docs/operations.md, "Measured failover").

Starts a PostgreSQL of its own (Debian's binaries; as root it runs as nobody) and three nodes from
--jar, publishes to a topic hosted by another node through both survivors, SIGKILLs that node (or the
oldest, node 1, with --victim oldest) and prints when publishing was served again, the slowest
answer meanwhile, and where the time went, read from the nodes' logs (Pekko's cluster and sharding
at debug). Rounds after the first restart the killed node.

Two clients, each through its own survivor (so they do not share a node's write batching):
- one at a time (like ClusterTest): /mpub batches of 100, the next sent when the last is answered,
  through node 1 (node 3 when node 1 is the victim);
- continuous: a /pub every 100 ms whatever the answers, through the other survivor; its first 200
  for a publish sent after the kill is when that survivor serves the topic again.

  python3 deploy/measure-failover.py --jar target/herald.jar [--rounds 3] [--victim other|oldest]

With --load-check SECONDS it kills nothing: it checks that the failure detection does not down a
live node that is only slow. For that long it runs --hogs busy processes (CPU starvation on top of
the cluster), publishes through every node, and SIGSTOPs node 2 and then node 3 for --stall seconds
(one figure for both, or two; a stall like a long GC pause); then it prints what the nodes' logs say (members marked
unreachable, downed, the longest heartbeat gap seen) and whether all three are still up.
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
  <logger name="org.apache.pekko.cluster.sharding.ShardRegion" level="DEBUG"/>
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
    ("entry hears of it", r"broker: Region \[Actor\[{a}/.*\] terminated with"),
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


def breakdown(nodes, victim, entry, topic, killed_at):
    """Seconds after the kill at which each step first shows in a survivor's log ("entry hears of
    it": the one-at-a-time client's node, whose shard region then asks where the topic went)."""
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
                if name == "entry hears of it" and n is not entry:
                    continue
                if re.search(pattern.format(a=address, t=re.escape(topic)), line):
                    found[name] = min(found.get(name, 1e9), clock(line) - kill)
    return ", ".join(f"{name} {found[name]:.2f} s" if name in found else f"{name} ?" for name, _ in STEPS)


def load_check(args, nodes):
    """Hogs, publishes and stalls for args.load_check seconds; returns whether no node was downed."""
    start = time.time()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    stop, acked, failed = [False], [0], [0]

    def publish(node, k):
        b = 0
        while not stop[0]:
            body = "".join(f"l-{k}-{b}-{j}\n" for j in range(100))
            try:
                status = request(node.http, "POST", f"/mpub?topic=load-{k}", body, timeout=60)[0]
            except OSError:
                status = None
            if status == 200:
                acked[0] += 100
            else:
                failed[0] += 1
            b += 1

    publishers = [threading.Thread(target=publish, args=(n, k)) for k, n in enumerate(nodes * 2)]
    for t in publishers:
        t.start()
    loads = []
    try:
        stalls = [float(x) for x in args.stall.split(",")]
        for victim, at, stall in ((nodes[1], 0.3, stalls[0]), (nodes[2], 0.65, stalls[-1])):
            while time.time() - start < args.load_check * at:
                loads.append(os.getloadavg()[0])
                time.sleep(1)
            os.kill(victim.proc.pid, 19)  # SIGSTOP
            time.sleep(stall)
            os.kill(victim.proc.pid, 18)  # SIGCONT
            print(f"  node {victim.i} stopped for {stall:.1f} s at {time.time() - start - stall:.0f} s", flush=True)
        while time.time() - start < args.load_check:
            loads.append(os.getloadavg()[0])
            time.sleep(1)
    finally:
        for h in hogs:
            h.kill()
        stop[0] = True
        for t in publishers:
            t.join()
    time.sleep(5)  # a Down decided at the very end reaches the members by gossip well within this
    unreachable = downed = 0
    gaps, starved = [], []
    for n in nodes:
        for line in open(n.log, errors="replace"):
            unreachable += "Marking node as UNREACHABLE" in line or "Marking node(s) as UNREACHABLE" in line
            downed += "as [Down]" in line
            m = re.search(r"heartbeat interval is growing too large for address .*: (\d+) millis", line)
            if m:
                gaps.append(int(m.group(1)))
            m = re.search(r"Previous heartbeat was sent \[(\d+)\] ms ago", line)
            if m:
                starved.append(int(m.group(1)))
    ups = [up_members(n) if n.alive() else 0 for n in nodes]
    print(f"load check: {args.load_check} s, {args.hogs} busy processes, load average up to {max(loads):.1f} "
          f"(mean {sum(loads) / len(loads):.1f}); {acked[0]} acknowledged, {failed[0]} failed publishes")
    print(f"  marked unreachable {unreachable} times, downed {downed} times; longest heartbeat gap logged "
          f"{max(gaps, default=0)} ms ({len(gaps)} gaps of 2 s or more), heartbeat sending delayed up to "
          f"{max(starved, default=0)} ms ({len(starved)} times); members up as seen by each node: {ups}")
    return downed == 0 and ups == [3, 3, 3]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jar", default="target/herald.jar")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--victim", choices=["other", "oldest"], default="other")
    p.add_argument("--topics", type=int, default=16, help="topics made per round (the killed node hosts about a third)")
    p.add_argument("--load-check", type=float, default=0, metavar="SECONDS")
    p.add_argument("--hogs", type=int, default=6)
    p.add_argument("--stall", default="3", metavar="SECONDS[,SECONDS]", help="how long node 2[, node 3] is stopped")
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
        if args.load_check:
            ok = load_check(args, nodes)
            print("no live node downed" if ok else "A LIVE NODE WAS DOWNED")
            return
        for rnd in range(args.rounds):
            oldest = args.victim == "oldest"
            entry = nodes[2] if oldest else nodes[0]
            second = nodes[1] if oldest else nodes[2]
            for t in range(args.topics):
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
            again2, slowest2, answers2 = [0.0], [0.0], []
            lock = threading.Lock()

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

            def publish_one(n):
                sent = time.time()
                try:
                    status = request(second.http, "POST", f"/pub?topic={topic}", f"c-{n}", timeout=60)[0]
                except OSError as e:
                    status = type(e).__name__
                now = time.time()
                with lock:
                    if killed[0] and sent > killed[0]:
                        slowest2[0] = max(slowest2[0], now - sent)
                        if status == 200:
                            if not again2[0] or now < again2[0]:
                                again2[0] = now
                        else:
                            answers2.append(status)

            def publish_continuously():
                n, pending = 0, []
                while not stop[0]:
                    t = threading.Thread(target=publish_one, args=(n,))
                    t.start()
                    pending.append(t)
                    n += 1
                    time.sleep(0.1)
                for t in pending:
                    t.join()

            publisher = threading.Thread(target=publish)
            publisher.start()
            continuous = threading.Thread(target=publish_continuously)
            continuous.start()
            while acked[0] < 3000:
                time.sleep(0.05)
            victim.proc.kill()
            victim.proc.wait()
            killed[0] = time.time()
            while not (again[0] and again2[0]) and time.time() - killed[0] < 120:
                time.sleep(0.1)
            stop[0] = True
            publisher.join()
            continuous.join()
            failed = [(round(s, 1), round(a, 1), st) for s, a, st in answers if st != 200]
            print(f"round {rnd + 1}: SIGKILL of node {victim.i} ({args.victim}), topic {topic}:")
            print(f"  one at a time through node {entry.i}: served again {again[0] - killed[0]:.1f} s after, "
                  f"slowest answer meanwhile {slowest[0]:.1f} s, failed (sent, answered, status): {failed}")
            print(f"  continuous through node {second.i}: served again {again2[0] - killed[0]:.1f} s after, "
                  f"slowest answer {slowest2[0]:.1f} s, {len(answers2)} failed {sorted(set(map(str, answers2)))}")
            print(f"  from the logs: {breakdown(nodes, victim, entry, topic, killed[0])}", flush=True)
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
