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


def run_command(argv: Sequence[str], cwd: str, timeout: float, env_extra: Optional[Dict[str, str]] = None) -> RunResult:
    """Run argv in cwd with stdout and stderr to files in cwd; time it."""
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
        try:
            _, wait_status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        timed_out = expired.is_set()
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(wait_status)
    # Kill anything the command left behind in its group (a daemonized child).
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return RunResult(wall=wall, cpu=usage.ru_utime + usage.ru_stime,
                     status=process.returncode, timed_out=timed_out, stdout_path=stdout_path,
                     stderr_tail=_tail(stderr_path), stdout_tail=_tail(stdout_path))


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
