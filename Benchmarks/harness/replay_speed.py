"""Replay speed on `gzip -c` of a 10 MB text: guest MIPS and the ratio to Valgrind, and
the taint replay against its targets.

The replay issue's measure: record `gzip -c` once, replay it on one core with
`magprov replay --jobs 1 --json`, and run `valgrind --tool=none` on the same command in
the same harness run. Guest instructions come from replay's own count; MIPS is given per
wall second and per CPU second (the process's user+system time), since the machines are
shared and a busy neighbour stretches wall time but not CPU time. Peak replay memory is
set against gzip's own peak RSS (the issue asks for under 3x that plus 64 MB).

Taint: `magprov replay --taint --jobs 1 --json` of a recording of the same command, with
its targets: at least 50 M guest instructions per CPU second, at most 3x the plain
replay's time (judged on CPU seconds, the plain replay of the same recording; wall
shown too), peak memory at most 4x gzip's own peak plus 64 MB.  A full run taints the
10 MB recording itself; --quick a 50 KB one (taint replays at a few guest MIPS today).
The taint replay has a timeout and a memory cap; hitting one leaves the targets not met,
with what was known when it was stopped, and is not a harness failure.

Peak RSS figures come from GNU time (%M): wait4's own ru_maxrss would count the harness's
Python process, which subprocess forks the children from with vfork.
"""

import json
import os
import random
import shutil
import subprocess
import sys
from typing import Dict, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import replay_report  # noqa: E402
from workloads import SEED, _text  # noqa: E402  (the harness's own input generator)

TAINT_MIPS_TARGET = 50.0
TAINT_TIME_TARGET = 3.0
TAINT_MEMORY_FACTOR, TAINT_MEMORY_EXTRA_KB = 4, 64 * 1024


def _gzip_peak_kb(source: str, cwd: str) -> int:
    """gzip's own peak RSS (KB) on source, GNU time's %M (run_command falls back to wait4)."""
    r = measure.run_command(["gzip", "-c", source], cwd, 300, measure_rss=True)
    return r.peak_rss_kb or 0


def _record(magprov: str, scratch: str, size: int, name: str):
    """Writes a seeded text of `size` bytes and records `gzip -c` of it; (source, trace)."""
    source = os.path.join(scratch, "%s.txt" % name)
    with open(source, "wb") as f:
        f.write(_text(random.Random(SEED), size))
    trace = os.path.join(scratch, "%s.trace" % name)
    shutil.rmtree(trace, ignore_errors=True)
    subprocess.run([magprov, "record", "-o", trace, "--", "gzip", "-c", source],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return source, trace


def _replay(magprov: str, cwd: str, trace: str, timeout: float, taint: bool = False,
            memory_cap_kb: Optional[int] = None):
    """(RunResult, stdout text, guest instructions or None) of one single-core replay."""
    os.makedirs(cwd, exist_ok=True)
    argv = [magprov, "replay"] + (["--taint"] if taint else []) + ["--jobs", "1", "--json", trace]
    r = measure.run_command(argv, cwd, timeout, measure_rss=True, memory_cap_kb=memory_cap_kb)
    with open(r.stdout_path, errors="replace") as f:
        said = f.read()
    instructions = replay_report.parse(said).get("instructions")
    # What a failed run said, for the error message: its first divergence, else stderr.
    out = replay_report.first_divergence(said) or _tail(r)
    return r, out, instructions


def _tail(r) -> str:
    return " ".join(r.stderr_tail.split())[-300:] or "no output (exit status %d)" % r.status


def measure_speed(magprov: str, scratch: str, size: int = 10_000_000, taint_size: Optional[int] = None,
                  taint_timeout: float = 1200.0, memory_cap_kb: Optional[int] = None, budget=None,
                  timeout: float = 1200.0) -> Dict[str, object]:
    """The section's figures; taint_size None: no taint figures (replay has no --taint)."""
    os.makedirs(scratch, exist_ok=True)
    source, trace = _record(magprov, scratch, size, "replay-speed")
    gzip_rss = _gzip_peak_kb(source, scratch)
    r, out, instructions = _replay(magprov, os.path.join(scratch, "plain"), trace, timeout)
    if r.status != 0 or r.timed_out or not instructions:
        return {"error": (out.strip().splitlines() or ["replay failed (exit status %d)" % r.status])[0]}
    wall, cpu = r.wall, r.cpu
    vg = measure.run_command(["valgrind", "--tool=none", "gzip", "-c", source], scratch, timeout)
    vg_ok = vg.status == 0 and not vg.timed_out
    result: Dict[str, object] = {
        "workload": "gzip -c, %.1f MB text" % (size / 1e6),
        "guest_instructions": instructions,
        "replay_wall_s": round(wall, 3), "replay_cpu_s": round(cpu, 3),
        "mips_per_wall_second": round(instructions / wall / 1e6, 1),
        "mips_per_cpu_second": round(instructions / cpu / 1e6, 1),
        "valgrind_none_wall_s": round(vg.wall, 3) if vg_ok else None,
        "valgrind_none_cpu_s": round(vg.cpu, 3) if vg_ok else None,
        "replay_to_valgrind_cpu_ratio": round(cpu / vg.cpu, 1) if vg_ok and vg.cpu > 0 else None,
        "replay_peak_rss_kb": r.peak_rss_kb, "gzip_peak_rss_kb": gzip_rss,
        "memory_bound_kb": 3 * gzip_rss + 64 * 1024,
    }
    if taint_size is not None:
        plain = {"wall": wall, "cpu": cpu, "instructions": instructions, "gzip_rss": gzip_rss}
        result["taint"] = _measure_taint(magprov, scratch, taint_size, trace if taint_size == size else None,
                                         plain if taint_size == size else None, taint_timeout, memory_cap_kb,
                                         budget, timeout)
    shutil.rmtree(trace, ignore_errors=True)
    return result


def _measure_taint(magprov, scratch, size, trace, plain, taint_timeout, memory_cap_kb, budget, timeout):
    taint: Dict[str, object] = {"workload": "gzip -c, %s text" % (
        "%.1f MB" % (size / 1e6) if size >= 100_000 else "%d KB" % round(size / 1e3))}
    if trace is None:
        source, trace = _record(magprov, scratch, size, "taint-speed")
        gzip_rss = _gzip_peak_kb(source, scratch)
        r, out, instructions = _replay(magprov, os.path.join(scratch, "taint-plain"), trace, timeout)
        if r.status != 0 or r.timed_out or not instructions:
            taint["error"] = "plain replay of the taint recording failed: " + (out.strip().splitlines() or ["?"])[0]
            return taint
        plain = {"wall": r.wall, "cpu": r.cpu, "instructions": instructions, "gzip_rss": gzip_rss}
    instructions = plain["instructions"]
    bound = TAINT_MEMORY_FACTOR * plain["gzip_rss"] + TAINT_MEMORY_EXTRA_KB
    taint.update(guest_instructions=instructions, replay_wall_s=round(plain["wall"], 3),
                 replay_cpu_s=round(plain["cpu"], 3), gzip_peak_rss_kb=plain["gzip_rss"], memory_bound_kb=bound)
    if budget is not None and budget.exhausted():
        taint["error"] = "skipped: " + budget.describe()
        return taint
    limit = budget.timeout(taint_timeout) if budget is not None else taint_timeout
    r, out, counted = _replay(magprov, os.path.join(scratch, "taint"), trace, limit, taint=True,
                              memory_cap_kb=memory_cap_kb)
    if budget is not None:
        budget.charge(r.wall)
    peak = r.peak_rss_kb or r.group_rss_kb
    taint.update(taint_wall_s=round(r.wall, 3), taint_cpu_s=round(r.cpu, 3), taint_peak_rss_kb=peak)
    stopped = None
    if r.over_memory:
        stopped = "killed above the memory cap of %s after %.0f s" % (measure.cap_text(memory_cap_kb), r.wall)
    elif r.timed_out:
        stopped = "timed out after %.0f s" % limit
    elif r.status != 0:
        taint["error"] = "taint replay failed (exit status %d): %s" % (
            r.status, (out.strip().splitlines() or ["no output"])[0][:300])
        return taint
    taint["stopped"] = stopped
    cpu_ratio = r.cpu / plain["cpu"] if plain["cpu"] > 0 else None
    taint["taint_to_replay_cpu"] = round(cpu_ratio, 2) if cpu_ratio else None
    taint["taint_to_replay_wall"] = round(r.wall / plain["wall"], 2) if plain["wall"] > 0 else None
    if r.cpu > 0:
        taint["mips_per_cpu_second"] = round(instructions / r.cpu / 1e6, 2)
        taint["mips_per_wall_second"] = round(instructions / r.wall / 1e6, 2)
    # Targets.  A stopped run ran for r.cpu seconds without finishing: its MIPS is an upper
    # bound and its time ratio a lower bound, so a miss is still a miss; a pass is unknown.
    targets = []
    mips = taint.get("mips_per_cpu_second")
    if mips is not None:
        met = mips >= TAINT_MIPS_TARGET if not stopped else (False if mips < TAINT_MIPS_TARGET else None)
        targets.append({"target": "at least %.0f M guest instructions per CPU second" % TAINT_MIPS_TARGET,
                        "value": ("< " if stopped else "") + "%.1f M" % mips, "met": met})
    if cpu_ratio:
        met = cpu_ratio <= TAINT_TIME_TARGET if not stopped else (False if cpu_ratio > TAINT_TIME_TARGET else None)
        targets.append({"target": "at most %.0fx the plain replay's time (CPU seconds)" % TAINT_TIME_TARGET,
                        "value": ("> " if stopped else "") + "%.1fx (wall %.1fx)" % (cpu_ratio, taint["taint_to_replay_wall"] or 0),
                        "met": met})
    if peak:
        met = peak <= bound if not stopped else (False if peak > bound else None)
        targets.append({"target": "peak memory at most %dx gzip's own peak + 64 MB = %.0f MB" % (
                            TAINT_MEMORY_FACTOR, bound / 1024),
                        "value": ("> " if stopped else "") + "%.0f MB" % (peak / 1024), "met": met})
    taint["targets"] = targets
    return taint


def _met(t) -> str:
    return {True: "met", False: "**not met**", None: "unknown"}[t["met"]]


def markdown(r: dict) -> str:
    if "error" in r:
        return "Replay speed: not measured (%s)\n" % r["error"]
    out = (
        "## Replay speed (one core)\n\n"
        "| workload | guest instructions | replay | guest MIPS | valgrind --tool=none | replay / valgrind (CPU) | peak replay RSS |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        "| %s | %d | %.2f s wall, %.2f s CPU | %.0f per wall s, %.0f per CPU s | %.2f s wall, %.2f s CPU | %.1fx | %d MB (bound %d MB) |\n"
        % (r["workload"], r["guest_instructions"], r["replay_wall_s"], r["replay_cpu_s"], r["mips_per_wall_second"],
           r["mips_per_cpu_second"], r["valgrind_none_wall_s"] or 0, r["valgrind_none_cpu_s"] or 0,
           r["replay_to_valgrind_cpu_ratio"] or 0, (r["replay_peak_rss_kb"] or 0) // 1024, r["memory_bound_kb"] // 1024))
    t = r.get("taint")
    if t:
        out += "\n" + taint_markdown(t)
    return out


def taint_markdown(t: dict) -> str:
    out = "### Taint replay against its targets (one core, `replay --taint --jobs 1`)\n\n"
    if "taint_wall_s" not in t:
        return out + "Not measured: %s\n" % t.get("error", "?")
    out += ("| workload | guest instructions | plain replay | replay --taint | guest MIPS (taint) | taint / plain | "
            "peak taint RSS | gzip peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
    stopped = t.get("stopped")
    out += "| %s | %d | %.2f s wall, %.2f s CPU | %s%.2f s wall, %.2f s CPU | %s | %s | %s | %d KB |\n" % (
        t["workload"], t["guest_instructions"], t["replay_wall_s"], t["replay_cpu_s"], "> " if stopped else "",
        t["taint_wall_s"], t["taint_cpu_s"],
        "%s%.1f per CPU s, %.1f per wall s" % ("< " if stopped else "", t["mips_per_cpu_second"], t["mips_per_wall_second"])
        if "mips_per_cpu_second" in t else "-",
        "%s%.1fx CPU, %.1fx wall" % ("> " if stopped else "", t["taint_to_replay_cpu"] or 0, t["taint_to_replay_wall"] or 0),
        "%.0f MB" % ((t["taint_peak_rss_kb"] or 0) / 1024), t["gzip_peak_rss_kb"])
    out += "\n"
    if stopped:
        out += "The taint replay was stopped: %s.\n\n" % stopped
    if "error" in t:
        out += "Failed: %s\n\n" % t["error"]
    for target in t.get("targets", []):
        out += "- %s: %s — %s\n" % (target["target"], target["value"], _met(target))
    return out


def terminal(r: dict) -> str:
    if not r:
        return ""
    if "error" in r:
        return "Replay speed: not measured (%s)" % r["error"]
    lines = ["Replay speed (one core): %s, %d guest instructions, %.1f M per CPU s; valgrind none %.2f s CPU "
             "(replay / valgrind %.1fx CPU); peak %d MB (bound %d MB)" % (
                 r["workload"], r["guest_instructions"], r["mips_per_cpu_second"], r["valgrind_none_cpu_s"] or 0,
                 r["replay_to_valgrind_cpu_ratio"] or 0, (r["replay_peak_rss_kb"] or 0) // 1024,
                 r["memory_bound_kb"] // 1024)]
    t = r.get("taint")
    if t:
        if "taint_wall_s" not in t:
            lines.append("Taint replay speed: not measured (%s)" % t.get("error", "?"))
        else:
            lines.append("Taint replay speed (one core), %s: %d guest instructions; plain %.2f s CPU, taint %s%.2f s CPU%s" % (
                t["workload"], t["guest_instructions"], t["replay_cpu_s"], "> " if t.get("stopped") else "",
                t["taint_cpu_s"], " (stopped: %s)" % t["stopped"] if t.get("stopped") else ""))
            for target in t.get("targets", []):
                lines.append("  %-62s %-24s %s" % (target["target"], target["value"],
                                                   _met(target).replace("*", "").upper()))
            if "error" in t:
                lines.append("  failed: %s" % t["error"])
    return "\n".join(lines)


if __name__ == "__main__":
    magprov = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MAGPROV", ".build/release/magprov")
    scratch = sys.argv[2] if len(sys.argv) > 2 else "Benchmarks/results/tmp/replay-speed"
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000_000
    taint_size = int(sys.argv[4]) if len(sys.argv) > 4 else size
    result = measure_speed(magprov, scratch, size, taint_size)
    print(json.dumps(result, indent=2))
    print(markdown(result))
