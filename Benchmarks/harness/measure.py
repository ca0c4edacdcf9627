"""Running one command and summarizing many: wall time, CPU time, medians and ranges.

Each run is its own process group (so a timeout kills the whole tree, tracer included)
and is reaped with wait4, whose rusage covers the child and every descendant it waited
for: for the ptrace contenders that includes the tracer's own CPU.
"""

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

# Fixed environment for every workload run: C locale (sort order, tr classes).  The rest
# of the environment is inherited, less GZIP (user-configured gzip options).
WORKLOAD_ENV = {"LC_ALL": "C", "LANG": "C"}


@dataclass
class RunResult:
    wall: float             # seconds
    cpu: float              # user + system seconds of the whole tree
    status: int             # exit status, or -signal
    timed_out: bool
    stdout_path: str
    stderr_tail: str
    stdout_tail: str
    # With measure_rss: the command's own peak RSS in KB (GNU time's %M: the largest
    # single process of the tree), else None.  With memory_cap_kb: the largest RSS of the
    # whole process group the watchdog saw, and whether it killed the group for it.
    # (When the group is killed, wait4's CPU time misses the grandchildren GNU time did
    # not reap: `cpu` is then the watchdog's last reading, at most half a second old.)
    peak_rss_kb: Optional[int] = None
    group_rss_kb: Optional[int] = None
    over_memory: bool = False


GNU_TIME = "/usr/bin/time"


def _group_usage(group: int):
    """(resident KB, user+system CPU seconds) of every live process in process group
    `group`, from /proc/*/stat."""
    total = 0
    ticks = 0
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        # fields[0] is field 3 (state): pgrp is field 5, utime and stime fields 14 and 15
        # (clock ticks), rss (pages) field 24.
        if len(fields) > 21 and fields[2] == str(group):
            total += int(fields[21]) * page_kb
            ticks += int(fields[11]) + int(fields[12])
    return total, ticks / os.sysconf("SC_CLK_TCK")


def cap_text(kb: int) -> str:
    """A memory size in KB for a sentence: '9.4 GB', '50 MB'."""
    return "%.1f GB" % (kb / 1024 / 1024) if kb >= 1024 * 1024 else "%d MB" % (kb // 1024)


def memory_total_kb() -> int:
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def run_command(argv: Sequence[str], cwd: str, timeout: float, env_extra: Optional[Dict[str, str]] = None,
                measure_rss: bool = False, memory_cap_kb: Optional[int] = None) -> RunResult:
    """Run argv in cwd with stdout and stderr to files in cwd; time it.

    measure_rss: run it under GNU time for its peak RSS (wait4's own ru_maxrss would
    count this Python process: subprocess starts children with vfork, and the kernel
    takes the parent's high-water mark at exec).  memory_cap_kb: a watchdog sums the
    process group's RSS twice a second and kills the group above the cap (a taint replay
    that would push the shared machine into swap or the OOM killer).
    """
    rss_path = os.path.join(cwd, ".peak-rss")
    if measure_rss and os.access(GNU_TIME, os.X_OK):
        argv = [GNU_TIME, "-f", "%M", "-o", rss_path] + list(argv)
    else:
        measure_rss = False
    env = dict(os.environ)
    env.update(WORKLOAD_ENV)
    env.pop("GZIP", None)
    if env_extra:
        env.update(env_extra)
    stdout_path = os.path.join(cwd, "stdout")
    stderr_path = os.path.join(cwd, "stderr")
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=err, env=env, start_new_session=True)
        # Blocking wait4 (no polling error); a timer kills the group on timeout.
        expired = threading.Event()

        def kill_on_timeout() -> None:
            expired.set()
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill_on_timeout)
        timer.start()
        over = threading.Event()
        finished = threading.Event()
        group_peak = [0]
        group_cpu = [0.0]

        def watch_memory() -> None:
            while not finished.wait(0.5):
                rss, cpu = _group_usage(process.pid)
                group_peak[0] = max(group_peak[0], rss)
                group_cpu[0] = max(group_cpu[0], cpu)
                if memory_cap_kb and rss > memory_cap_kb:
                    over.set()
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    return

        watcher = threading.Thread(target=watch_memory, daemon=True) if memory_cap_kb else None
        if watcher:
            watcher.start()
        try:
            _, wait_status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            finished.set()
            if watcher:
                watcher.join()
        timed_out = expired.is_set() and not over.is_set()
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(wait_status)
    # Kill anything the command left behind in its group (a daemonized child).
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    peak = None
    if measure_rss:
        try:
            with open(rss_path) as f:
                # "Command exited with non-zero status N" may come first; %M is last.
                peak = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            peak = None     # killed with the group before GNU time could write
        try:
            os.unlink(rss_path)
        except OSError:
            pass
    cpu = usage.ru_utime + usage.ru_stime
    if timed_out or over.is_set():
        cpu = max(cpu, group_cpu[0])
    return RunResult(wall=wall, cpu=cpu,
                     status=process.returncode, timed_out=timed_out, stdout_path=stdout_path,
                     stderr_tail=_tail(stderr_path), stdout_tail=_tail(stdout_path),
                     peak_rss_kb=peak, group_rss_kb=group_peak[0] if memory_cap_kb else None,
                     over_memory=over.is_set())


def _tail(path: str, size: int = 2000) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - size))
        return f.read().decode(errors="replace")


def median(values: List[float]) -> float:
    s = sorted(values)
    n = len(s)
    if n == 0:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def summary(values: List[float]) -> Dict[str, float]:
    """median, min, max and count of a list (empty list: count 0 only)."""
    if not values:
        return {"n": 0}
    return {"median": median(values), "min": min(values), "max": max(values), "n": len(values)}


def tree_size(path: str) -> int:
    """Bytes in regular files under path (a file or a directory)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                total += os.path.getsize(full)
    return total
