"""What the measure-*.py scripts share: waiting for a condition, and a node's heap after a full GC."""
import http.client, re, signal, subprocess, sys, time


def wait(what, fn, timeout, step=0.5):
    """Seconds until fn() is true; exits the script when it never is within timeout."""
    start = time.time()
    while time.time() - start < timeout:
        try:
            if fn():
                return time.time() - start
        except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError, StopIteration):
            pass
        time.sleep(step)
    sys.exit(f"timed out waiting for {what}")


def heap_used_mb(pid):
    subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True)
    out = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True).stdout
    m = re.search(r"used (\d+)K", out)
    return int(m.group(1)) / 1024 if m else -1


class Nodes:
    """Starts a node with cmd (each start timed to its first /ping on port) and ends every one still running."""

    def __init__(self, cmd, log_path, port):
        self.cmd, self.port, self.procs = cmd, port, []
        self.log = open(log_path, "a")

    def start(self):
        t0 = time.time()
        proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.procs.append(proc)

        def ping():
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("GET", "/ping")
            return c.getresponse().status == 200

        wait("/ping", ping, 600)
        return proc, time.time() - t0

    def __enter__(self):
        # quiet-run's timeout sends SIGTERM: exit through __exit__, which ends the node.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
        return self

    def __exit__(self, *exc):
        for proc in self.procs:  # a run that gave up leaves no node behind
            if proc.poll() is None:
                proc.kill()
                proc.wait()
