#!/usr/bin/env python3
"""CPU per request by layer, from deploy/pub-profile.sh's files: each perf sample of the server's
threads is put in one layer (below), and a layer's share of the samples times the server's CPU per
request (from /proc, over the same run) is its CPU per request. One column per DIR N pair.

  deploy/perf-layers.py DIR N [DIR N ...]     (DIR = pub-profile.sh's OUTDIR/LABEL, N = connections)

Layers: the JIT's and GC's threads by name; the journal's writer threads by name (Herald's
"herald-pekko.persistence.journal.leveldb.writers", cut to "herald-pekko.pe" by Linux, and the floor's
TimedWriters threads "floor-N"), split into the kernel's msync work on LevelDB's memory-mapped log (block
IO submission, TLB flushes as msync write-protects the mapped pages, page faults as the next write dirties
them again, the rest of msync/fsync), LevelDB's own code, copies and the JVM; every other thread's
kernel samples by system call (futex: a thread parking or waking another; TCP read/write; epoll), and
its user samples by the innermost frame of a known layer (Herald's code, Pekko Persistence, the routing
DSL, pekko-http's engine, pekko-streams, pekko-io + NIO, futures, the actor runtime, the fork-join
pool's own scan and park)."""
import collections, os, re, subprocess, sys

WRITER = re.compile(r'\.pe$|^floor-\d+$|writers')


def layer(comm, frames):
    kernel = frames[0][1].endswith('kallsyms]')
    syms = [s for s, _ in frames]
    joined = ' '.join(syms)
    if comm.startswith(('C1', 'C2')):
        return 'JIT compilers'
    if comm.startswith(('GC', 'G1', 'VM')):
        return 'GC + VM threads'
    if WRITER.search(comm):
        if kernel:
            if re.search(r'mkclean|flush_tlb', joined): return 'writer: msync write-protects the mapped log (TLB flush)'
            if re.search(r'page_fault|handle_mm_fault', joined): return 'writer: page faults dirtying the mapped log'
            if re.search(r'iowrite|virtqueue|blk_mq|submit_bio|bio_', joined): return 'writer: block IO submission (virtio)'
            if re.search(r'fsync|sync_file|write_inode|writeback|msync', joined): return 'writer: msync/fsync, the rest (ext4, waits)'
            if 'futex' in joined: return 'writer: futex (its pool)'
            return 'writer: kernel, other'
        if 'leveldbjni' in frames[0][1]: return 'writer: LevelDB (native)'
        if re.search(r'memmove|memcpy|memset|malloc|free', syms[0]): return 'writer: libc copies, malloc'
        return 'writer: Java + JVM (serialization, JNI, pool)'
    if kernel:
        if 'futex' in joined: return 'kernel: futex (threads parking, waking others)'
        if 'epoll' in joined: return 'kernel: epoll'
        if re.search(r'ksys_write|sys_write|tcp_sendmsg|sock_write', joined): return 'kernel: TCP write'
        if re.search(r'ksys_read|sys_read|tcp_recvmsg|sock_read', joined): return 'kernel: TCP read'
        if re.search(r'exit_to_user_mode_loop|schedule', joined): return 'kernel: preempted, scheduling'
        return 'kernel: other'
    for s in syms:
        if 'herald.' in s:
            return 'journal plugin' if re.search(r'herald\.node\.LevelDbJournal|herald\.floor', s) else "Herald's code"
        if 'pekko.persistence' in s or 'fusesource' in s: return 'Pekko Persistence'
        if re.search(r'pekko\.http\.(scaladsl|javadsl)\.server', s): return 'pekko-http routing DSL'
        if 'pekko.http.' in s: return 'pekko-http engine'
        if 'pekko.stream.' in s: return 'pekko-streams'
        if 'pekko.io.' in s or 'sun.nio' in s: return 'pekko-io + NIO'
        if re.search(r'scala\.concurrent|CompletableFuture', s): return 'futures'
        if re.search(r'ForkJoinPool|Unsafe\.park|LockSupport', s): return 'fork-join pool scan, park'
        if re.search(r'pekko\.(actor|dispatch)', s): return 'actor runtime'
    return 'JVM runtime' if 'libjvm' in frames[0][1] else 'other user code'


def column(d, c):
    out = subprocess.run(['perf', 'script', '-i', f'{d}/perf.{c}.data', '-F', 'comm,ip,sym,dso'],
                         capture_output=True, text=True).stdout
    counts, n = collections.Counter(), 0
    for block in out.split('\n\n'):
        lines = block.strip().split('\n')
        if len(lines) < 2: continue
        comm = lines[0].strip()
        frames = []
        for line in lines[1:]:
            m = re.match(r'\s*[0-9a-f]+ (.*) \((.*)\)$', line)
            if m: frames.append((re.sub(r'\+0x[0-9a-f]+$', '', m.group(1)), m.group(2)))
        if frames:
            n += 1
            counts[layer(comm, frames)] += 1

    def ticks(f):
        return sum(int(p[1]) for p in (line.split() for line in open(f)) if len(p) == 4)
    b0, s0, t0, b1, s1, t1 = map(float, open(f'{d}/machine.{c}').read().split()[:6])
    wrk = open(f'{d}/run.{c}.wrk').read()
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', wrk).group(1))
    requests = int(re.search(r'(\d+) requests in', wrk).group(1))
    us = (ticks(f'{d}/t1.{c}') - ticks(f'{d}/t0.{c}')) / os.sysconf('SC_CLK_TCK') / requests * 1e6
    col = {k: us * v / n for k, v in counts.items()}
    col['= req/s'] = rps
    col['= node CPU, us a request (/proc)'] = us
    col['= machine busy % (steal not in it)'] = 100 * (b1 - b0) / (t1 - t0)
    col['= machine steal %'] = 100 * (s1 - s0) / (t1 - t0)
    return col


args = sys.argv[1:]
if not args or len(args) % 2: sys.exit(__doc__)
names = [f'{args[i].rstrip("/").split("/")[-1]}@{args[i + 1]}' for i in range(0, len(args), 2)]
cols = [column(args[i], args[i + 1]) for i in range(0, len(args), 2)]
rows = sorted({k for c in cols for k in c}, key=lambda k: (not k.startswith('='), -max(c.get(k, 0) for c in cols)))
print(f'{"us a request":58s}' + ''.join(f'{n:>16s}' for n in names))
for k in rows:
    print(f'{k:58s}' + ''.join(f'{c.get(k, 0):16.1f}' for c in cols))
