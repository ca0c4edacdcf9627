"""The taint section: plain replay, `magprov replay --taint` and Valgrind memcheck on the
same recording, per workload, with peak memory, guest speed and the refinement counts.

One round per workload (taint replay is the expensive part of the whole run): record the
workload once (untimed), then run the bare command under GNU time (its output is the
reference and its peak RSS the program's own), the bare command again (timed), the plain
replay, the taint replay and memcheck.  The taint replay runs with a timeout and a memory
cap; hitting either is a *limit*, printed and listed but never a failure (the harness
never fails on timing).  A taint replay that exits non-zero (divergence) or crashes is a
failure, like every other contender's.

Inputs: the main workloads' own in a full run; in --quick the small ones of
workloads.Sizes.small_for_taint, and the workloads whose plain replay runs more than
QUICK_INSTRUCTION_LIMIT guest instructions are skipped (they would take minutes); a
shared Budget caps the seconds all --quick taint replays may take together.
"""

import glob
import json
import os
import shutil
import sqlite3
import subprocess
from typing import Callable, Dict, List, Optional

import measure
import refinement
import replay_report

KEY = "magprov-replay-taint"
QUICK_INSTRUCTION_LIMIT = 80_000_000


class Budget:
    """Seconds of taint replay left for this harness run (None: unlimited)."""

    def __init__(self, seconds: Optional[float]):
        self.total = seconds
        self.used = 0.0

    def timeout(self, per_run: float) -> float:
        """The timeout for the next taint replay: per_run, or what is left if less."""
        if self.total is None:
            return per_run
        return max(0.0, min(per_run, self.total - self.used))

    def exhausted(self) -> bool:
        return self.total is not None and self.total - self.used < 5

    def charge(self, seconds: float) -> None:
        self.used += seconds

    def describe(self) -> str:
        return "the --quick taint budget of %.0f s is used up" % self.total


def default_memory_cap_kb() -> int:
    """40% of the machine's memory, at most 12 GiB: others build on the same machine."""
    total = measure.memory_total_kb() or 16 * 1024 * 1024
    return min(int(total * 0.4), 12 * 1024 * 1024)


# --- reading what a replay said and wrote -------------------------------------------------

def read_refinement(trace: str) -> Optional[Dict[str, object]]:
    """The RefinementReport the graph store keeps (meta 'refinement', JSON), counts only."""
    path = os.path.join(trace, "provenance.sqlite")
    if not os.path.exists(path):
        return None
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'refinement'").fetchone()
        finally:
            db.close()
        if not row:
            return None
        report = json.loads(row[0])
    except (sqlite3.Error, ValueError):
        return None
    return replay_report.refinement_counts(report)


_STATISTICS = ("instructions", "sourceBytes", "sinkBytes", "labelSets", "unionLookups", "unionHits",
               "coarsenedSets", "shadowPages", "seconds")


def read_summaries(trace: str) -> Dict[str, object]:
    """Sums of the flow summaries' statistics (TRACE/taint/*.json, Trace/TaintSummary.swift)."""
    totals: Dict[str, float] = {k: 0 for k in _STATISTICS}
    count = completed = 0
    failures: List[str] = []
    damaged = 0
    for path in sorted(glob.glob(os.path.join(trace, "taint", "*.json"))):
        try:
            with open(path) as f:
                summary = json.load(f)
            statistics = summary.get("statistics", {})
            for k in _STATISTICS:
                totals[k] += statistics.get(k, 0) or 0
        except (OSError, ValueError, AttributeError):
            damaged += 1
            continue
        count += 1
        if summary.get("completed"):
            completed += 1
        elif summary.get("failure"):
            failures.append("%s: %s" % (os.path.basename(summary.get("executable", "?")), summary["failure"]))
    result: Dict[str, object] = {"summaries": count, "completed": completed, "statistics": totals}
    if failures:
        result["failures"] = failures[:10]
    if damaged:
        result["damaged"] = damaged
    return result


def _read(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


# --- the section ------------------------------------------------------------------------------

class TaintSection:
    """Runs the section.  fail(workload, contender, round, what) records a failure;
    log(message) prints progress."""

    def __init__(self, magprov: str, scratch: str, valgrind: Optional[str], quick: bool, timeout: float,
                 taint_timeout: float, memory_cap_kb: int, budget: Budget,
                 fail: Callable[[str, str, str, str], None], log: Callable[[str], None]):
        self.magprov = magprov
        self.scratch = os.path.join(scratch, "taint")
        self.valgrind = valgrind
        self.quick = quick
        self.timeout = timeout
        self.taint_timeout = taint_timeout
        self.memory_cap_kb = memory_cap_kb
        self.budget = budget
        self.fail = fail
        self.log = log
        self.limits: List[Dict[str, str]] = []

    def limit(self, workload: str, what: str) -> None:
        self.limits.append({"workload": workload, "what": what})
        self.log("!!! LIMIT %s / magprov replay --taint: %s (not a failure: the harness never fails on time)"
                 % (workload, what))

    def _run(self, workload, name: str, argv: List[str], timeout: float, **options) -> measure.RunResult:
        run_dir = os.path.join(self.scratch, "runs", workload.name, name)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        if workload.prepare:
            workload.prepare(run_dir)
        result = measure.run_command(argv, run_dir, timeout, workload.env, **options)
        result.run_dir = run_dir   # type: ignore[attr-defined]
        return result

    def _digest(self, workload, result: measure.RunResult) -> str:
        try:
            return workload.output_digest(result.run_dir, result.stdout_path)  # type: ignore[attr-defined]
        except (OSError, subprocess.CalledProcessError) as e:
            return "unreadable: %s" % e

    def measure_workload(self, workload, same_input: bool) -> Dict[str, object]:
        name = workload.name
        entry: Dict[str, object] = {"name": name, "title": workload.title, "same_input": same_input}
        self.log("== taint: %s (%s)" % (name, workload.title))
        trace = os.path.join(self.scratch, "traces", name)
        shutil.rmtree(trace, ignore_errors=True)
        os.makedirs(os.path.dirname(trace), exist_ok=True)
        try:
            return self._measure(workload, entry, trace)
        finally:
            shutil.rmtree(trace, ignore_errors=True)
            shutil.rmtree(os.path.join(self.scratch, "runs", name), ignore_errors=True)

    def _measure(self, workload, entry: Dict[str, object], trace: str) -> Dict[str, object]:
        name = workload.name
        label = "taint section"
        r = self._run(workload, "record", [self.magprov, "record", "-o", trace, "--", *workload.argv], self.timeout)
        if r.status != 0 or r.timed_out:
            self.fail(name, "magprov record (for the taint section)", label,
                      "could not record: " + " ".join(r.stderr_tail.split())[-300:])
            entry["error"] = "could not record"
            return entry

        # The bare command: under GNU time for its own peak RSS (and the reference output),
        # then once more, timed without the wrapper.
        warm = self._run(workload, "bare-rss", list(workload.argv), self.timeout, measure_rss=True)
        reference = self._digest(workload, warm) if warm.status == 0 and not warm.timed_out else None
        entry["program_peak_rss_kb"] = warm.peak_rss_kb
        bare = self._run(workload, "bare", list(workload.argv), self.timeout)
        if bare.status != 0 or bare.timed_out or reference is None:
            self.fail(name, "bare", label, "the bare command failed: " + " ".join(bare.stderr_tail.split())[-300:])
            entry["error"] = "the bare command failed"
            return entry
        entry["bare"] = {"wall": round(bare.wall, 4), "cpu": round(bare.cpu, 4)}

        # Plain replay.
        plain = self._run(workload, "replay", [self.magprov, "replay", "--json", trace], self.timeout, measure_rss=True)
        plain_report = _read(plain.stdout_path)
        said = replay_report.parse(plain_report)
        replay: Dict[str, object] = {"wall": round(plain.wall, 3), "cpu": round(plain.cpu, 3),
                                     "peak_rss_kb": plain.peak_rss_kb, "instructions": said.get("instructions"),
                                     "ok": plain.status == 0 and not plain.timed_out}
        entry["replay"] = replay
        if not replay["ok"]:
            what = "timed out after %.0f s" % self.timeout if plain.timed_out else "exit status %d; %s" % (
                plain.status, replay_report.first_divergence(plain_report) or " ".join(plain.stderr_tail.split())[-300:])
            self.fail(name, "magprov replay", label, what)

        entry["taint"] = self._taint(workload, trace, replay)
        if entry["taint"].get("status") == "ok":
            # Lineage answer sizes, coarse vs refined, while the refined trace exists.
            lineage = refinement.measure_workload(self.magprov, trace, workload, r.run_dir, self.timeout)  # type: ignore[attr-defined]
            if lineage:
                entry["lineage"] = lineage
                for mode in refinement.MODES:
                    if "error" in lineage[mode]:
                        self.fail(name, "magprov %s" % lineage["query"], label, lineage[mode]["error"])

        if self.valgrind and entry["taint"].get("status") == "skipped" and self.quick:
            entry["memcheck"] = {"not_run": "the taint replay was skipped"}   # make's costs a minute
        elif self.valgrind:
            vg = self._run(workload, "memcheck", [self.valgrind, "--tool=memcheck", "--trace-children=yes",
                                                 "--log-file=valgrind.%p.log", *workload.argv], self.timeout)
            ok = vg.status == 0 and not vg.timed_out
            if not ok:
                self.fail(name, "valgrind memcheck", label, "timed out after %.0f s" % self.timeout if vg.timed_out
                          else "exit status %d; stderr ends: %s" % (vg.status, " ".join(vg.stderr_tail.split())[-300:]))
            else:
                digest = self._digest(workload, vg)
                if digest != reference:
                    self.fail(name, "valgrind memcheck", label,
                              "OUTPUT MISMATCH: sha256 %s, bare run gave %s" % (digest[:16], reference[:16]))
                    ok = False
            entry["memcheck"] = {"wall": round(vg.wall, 3), "cpu": round(vg.cpu, 3), "ok": ok}
        else:
            entry["memcheck"] = None

        taint = entry["taint"]
        ratios: Dict[str, float] = {}
        if taint.get("status") == "ok":
            if replay["ok"] and replay["wall"] > 0:
                ratios["taint_to_replay_wall"] = taint["wall"] / replay["wall"]
                if replay["cpu"] > 0:
                    ratios["taint_to_replay_cpu"] = taint["cpu"] / replay["cpu"]
            if bare.wall > 0:
                ratios["taint_to_bare"] = taint["wall"] / bare.wall
            if entry["memcheck"] and entry["memcheck"].get("ok") and entry["memcheck"]["wall"] > 0:
                ratios["taint_to_memcheck"] = taint["wall"] / entry["memcheck"]["wall"]
            if taint.get("peak_rss_kb") and entry.get("program_peak_rss_kb"):
                ratios["taint_rss_to_program"] = taint["peak_rss_kb"] / entry["program_peak_rss_kb"]
        if replay["ok"] and bare.wall > 0:
            ratios["replay_to_bare"] = replay["wall"] / bare.wall
        if entry["memcheck"] and entry["memcheck"].get("ok") and bare.wall > 0:
            ratios["memcheck_to_bare"] = entry["memcheck"]["wall"] / bare.wall
        entry["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
        self.log("   bare %.3fs; replay %.2fs; taint %s; memcheck %s" % (
            bare.wall, plain.wall,
            "%.2fs (%.1fx replay), peak %s MB" % (taint["wall"], ratios.get("taint_to_replay_wall", float("nan")),
                                                 (taint.get("peak_rss_kb") or 0) // 1024)
            if taint.get("status") == "ok" else taint.get("status", "?") + ": " + taint.get("reason", ""),
            "not run" if entry["memcheck"] and "not_run" in entry["memcheck"] else
            "%.2fs" % entry["memcheck"]["wall"] if entry["memcheck"] else "unavailable"))
        return entry

    def _taint(self, workload, trace: str, replay: Dict[str, object]) -> Dict[str, object]:
        name = workload.name
        instructions = replay.get("instructions") or 0
        if self.quick and instructions > QUICK_INSTRUCTION_LIMIT:
            return {"status": "skipped", "reason": "skipped in --quick: %.0f M guest instructions (limit %.0f M); "
                    "the full run measures it" % (instructions / 1e6, QUICK_INSTRUCTION_LIMIT / 1e6)}
        if self.budget.exhausted():
            return {"status": "skipped", "reason": "skipped: " + self.budget.describe()}
        timeout = self.budget.timeout(self.taint_timeout)
        r = self._run(workload, "taint", [self.magprov, "replay", "--taint", "--json", trace], timeout,
                      measure_rss=True, memory_cap_kb=self.memory_cap_kb)
        self.budget.charge(r.wall)
        stdout = _read(r.stdout_path)
        result: Dict[str, object] = {"wall": round(r.wall, 3), "cpu": round(r.cpu, 3),
                                     "peak_rss_kb": r.peak_rss_kb or r.group_rss_kb}
        if r.over_memory:
            result.update(status="over memory", reason="killed above the memory cap of %s after %.0f s" % (
                measure.cap_text(self.memory_cap_kb), r.wall))
            self.limit(name, result["reason"])
            return result
        if r.timed_out:
            result.update(status="timed out", reason="timed out after %.0f s%s" % (
                timeout, " (what was left of the --quick budget)" if timeout < self.taint_timeout else ""))
            self.limit(name, result["reason"])
            return result
        if r.status != 0:
            what = "exit status %d; %s" % (r.status, replay_report.first_divergence(stdout) or
                                           "stderr ends: " + " ".join(r.stderr_tail.split())[-300:])
            result.update(status="failed", reason=what)
            self.fail(name, "magprov replay --taint", "taint section", what)
            return result
        said = replay_report.parse(stdout)
        summaries = read_summaries(trace)
        refinement = read_refinement(trace) or said.get("refinement")
        statistics = summaries["statistics"]
        instructions = said.get("instructions") or int(statistics["instructions"])
        result.update(status="ok", instructions=instructions, summaries=summaries, refinement=refinement)
        if r.cpu > 0 and instructions:
            result["mips_per_cpu_second"] = round(instructions / r.cpu / 1e6, 2)
        if statistics["seconds"] > 0:
            # Per second inside the interpreters (summed over units, each its own thread).
            result["mips_per_interpreter_second"] = round(statistics["instructions"] / statistics["seconds"] / 1e6, 2)
        if refinement is None:
            self.fail(name, "magprov replay --taint", "taint section",
                      "exit status 0 but no refinement report (neither in provenance.sqlite nor in replay --json)")
        return result


def main_table_entry(entry: Dict[str, object]) -> Optional[Dict[str, object]]:
    """The taint replay as a cell of the main replay table (same input only): its wall
    time and its ratio to the bare run of the taint section."""
    taint = entry.get("taint")
    bare = entry.get("bare")
    if not taint or not bare or taint.get("status") == "skipped":
        return None
    ok = taint.get("status") == "ok"
    cell = {"timed out": "> %.0f s (timed out)" % taint.get("wall", 0),
            "over memory": "> memory cap"}.get(taint.get("status"), "FAILED")
    wall = [taint["wall"]] if ok else []
    ratio = [taint["wall"] / bare["wall"]] if ok and bare["wall"] > 0 else []
    result = {"wall": measure.summary(wall), "cpu": measure.summary([taint["cpu"]] if ok else []),
              "ratio": measure.summary(ratio), "walls": [taint.get("wall")], "ratios": [round(x, 3) for x in ratio],
              "failed_runs": 0 if ok else 1, "from_taint_section": True}
    if not ok:
        result["cell_text"] = cell
    return result
