"""Benchmarks/run: magprov against the bare command and peer tools, side by side.

For each workload: a warm-up, then N rounds; each round runs the bare command and then
every contender once (bare A B C, bare A B C, ...), and each contender's slowdown is its
time divided by the bare time of the same round, so a burst of load from a neighbour on
the shared machine moves a whole round, not one column.  Every run's output is compared
with the bare run's; a mismatch, a failed run or a timeout makes the exit status 1.
Timing never does.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

import chart
import contenders as cont
import ground_truth
import measure
import refinement
import replay_speed
import report
import taint
import workloads as wl

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = os.path.dirname(HERE)
REPO = os.path.dirname(BENCHMARKS)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_arguments(argv: List[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="Benchmarks/run",
        description="Measure magprov record/replay against the bare command, strace, ReproZip, "
                    "rr and Valgrind on eight fixed workloads; print a table and write "
                    "results (JSON, Markdown, SVG chart).",
        epilog="Environment: MAGPROV=/path/to/magprov skips the release build; "
               "BENCH_NO_INSTALL=1 never installs missing peers.")
    p.add_argument("--quick", action="store_true",
                   help="small inputs, 1 round, bare-only warm-up (the CI check; a few minutes)")
    p.add_argument("--only", choices=[cont.RECORD, cont.REPLAY], help="measure one section only")
    p.add_argument("--runs", type=int, help="timed rounds per workload (default: 1 quick, 3 full)")
    p.add_argument("--workloads", help="comma-separated subset of workloads (for development)")
    p.add_argument("--out", help="results folder (default: Benchmarks/results for a full run of "
                                 "both sections, Benchmarks/results/tmp/partial otherwise, so that "
                                 "--quick never overwrites the published results)")
    p.add_argument("--render", metavar="JSON",
                   help="measure nothing: rewrite latest.md, latest.svg and refinement.svg beside an existing latest.json")
    p.add_argument("--timeout", type=float, help="seconds before one run is killed (default 180 quick, 1200 full)")
    p.add_argument("--taint-input", choices=["small", "same"],
                   help="inputs of the taint section: the workloads' own (same; default of a full run) or "
                        "small ones (default with --quick: taint replay is slow)")
    p.add_argument("--taint-timeout", type=float,
                   help="seconds before one taint replay is stopped and reported as a limit, not a failure "
                        "(default 90 quick, 1200 full)")
    p.add_argument("--taint-budget", type=float,
                   help="seconds all taint replays of the run may take together (default 150 with --quick, "
                        "no limit otherwise); what does not fit is reported as skipped")
    p.add_argument("--taint-memory-cap", type=float, metavar="GB",
                   help="kill a taint replay whose RSS exceeds this (default 40%% of RAM, at most 12)")
    args = p.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def magprov_binary() -> str:
    """$MAGPROV, or a release build from the repo root (default scratch path .build)."""
    override = os.environ.get("MAGPROV")
    if override:
        if not os.access(override, os.X_OK):
            sys.exit("Benchmarks/run: MAGPROV=%s is not an executable" % override)
        return os.path.abspath(override)
    log("building: swift build -c release --product magprov")
    start = time.perf_counter()
    subprocess.run(["swift", "build", "-c", "release", "--product", "magprov"], cwd=REPO, check=True,
                   stdout=sys.stderr)
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO,
                             check=True, capture_output=True, text=True).stdout.strip()
    log("built in %.0f s" % (time.perf_counter() - start))
    return os.path.join(bin_dir, "magprov")


def machine_description() -> Dict[str, str]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            memory = "%.1f GiB" % (kib / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    system = platform.platform()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    system = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    virtual = "no PMU (VM)" if not cont.has_hardware_counters() else "PMU present"
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": memory, "os": system,
            "kernel": platform.release(), "pmu": virtual}


def git_commit(*paths: str) -> str:
    """Short hash of the last commit touching paths (all: HEAD); '+changes' if they are edited."""
    r = subprocess.run(["git", "-C", REPO, "log", "-1", "--format=%h", "--", *paths],
                       capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--", *paths],
                           capture_output=True, text=True).stdout.strip()
    return r.stdout.strip() + ("+changes" if dirty else "") if r.returncode == 0 and r.stdout.strip() else "unknown"


def first_divergence(stdout_path: str) -> str:
    """The first line of a replay's report that names a divergence, '' if none does."""
    with open(stdout_path, errors="replace") as f:
        for line in f:
            if "divergence" in line:
                return " ".join(line.split())[:400]
    return ""


class Bench:
    """One harness run: the state shared by all workloads and the failures found."""

    def __init__(self, args: argparse.Namespace, magprov: str, scratch: str):
        self.args = args
        self.magprov = magprov
        self.scratch = scratch
        self.timeout = args.timeout or (180.0 if args.quick else 1200.0)
        self.failures: List[Dict[str, object]] = []

    def fail(self, workload: str, contender: str, round_label: str, what: str) -> None:
        self.failures.append({"workload": workload, "contender": contender, "round": round_label, "what": what})
        log("!!! FAILURE %s / %s (%s): %s" % (workload, contender, round_label, what))

    def run_once(self, workload: wl.Workload, contender: cont.Contender, round_label: str,
                 reference: Optional[str]) -> Dict[str, object]:
        """One run in a fresh directory: time, status, output digest, artifact size."""
        run_dir = os.path.join(self.scratch, "runs", workload.name, "%s-%s" % (contender.key, round_label))
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        if workload.prepare:
            workload.prepare(run_dir)
        argv = contender.command(workload.argv, run_dir, workload.name)
        result = measure.run_command(argv, run_dir, self.timeout, workload.env)
        record: Dict[str, object] = {"wall": result.wall, "cpu": result.cpu, "ok": True}
        if result.timed_out:
            self.fail(workload.name, contender.label, round_label, "timed out after %.0f s" % self.timeout)
            record["ok"] = False
        elif result.status != 0:
            if contender.compares_output:
                # stdout is the workload's output (gzip data ...); the complaint is on stderr.
                said = "stderr ends: " + " ".join(result.stderr_tail.split())[-300:]
            else:
                said = first_divergence(result.stdout_path) or (
                    "stdout ends: " + " ".join(result.stdout_tail.split())[-300:])
            self.fail(workload.name, contender.label, round_label, "exit status %d; %s" % (result.status, said))
            record["ok"] = False
        elif contender.compares_output:
            try:
                digest = workload.output_digest(run_dir, result.stdout_path)
            except (OSError, subprocess.CalledProcessError) as e:
                digest = "unreadable: %s" % e
            record["digest"] = digest
            if reference is not None and digest != reference:
                self.fail(workload.name, contender.label, round_label,
                          "OUTPUT MISMATCH: sha256 %s, bare run gave %s" % (digest[:16], reference[:16]))
                record["ok"] = False
        if contender.artifact:
            record["artifact_bytes"] = measure.tree_size(os.path.join(run_dir, contender.artifact))
        if contender.key == "magprov-record" and record["ok"]:
            info = subprocess.run([self.magprov, "info", os.path.join(run_dir, "trace"), "--json"],
                                  capture_output=True, text=True)
            try:
                stats = json.loads(info.stdout)
                record["syscalls"] = stats["syscalls"]
                record["trace_bytes"] = stats["traceBytes"]
                record["processes"] = stats["processes"]
                with open(os.path.join(run_dir, cont.RECORD_SUMMARY)) as f:
                    summary = json.load(f)
                record["hash_bytes"] = summary["hashedBytes"]
                record["hash_seconds"] = summary["hashSeconds"]
                log("   magprov record hashed %.1f MB with SHA-256 in %.3f s (%.0f MB/s, %.1f%% of the %.2f s recording)" % (
                    summary["hashedBytes"] / 1e6, summary["hashSeconds"],
                    summary["hashedBytes"] / 1e6 / summary["hashSeconds"] if summary["hashSeconds"] > 0 else 0,
                    100 * summary["hashSeconds"] / result.wall if result.wall > 0 else 0, result.wall))
            except (ValueError, KeyError, OSError):
                self.fail(workload.name, contender.label, round_label,
                          "magprov info --json or the record --json summary failed: " + info.stderr.strip()[-200:])
        if contender.key == "magprov-record-buffered" and record["ok"]:
            # How many of the recording's syscalls the buffer logged without a stop.
            info = subprocess.run([self.magprov, "info", os.path.join(run_dir, "trace"), "--json"],
                                  capture_output=True, text=True)
            try:
                stats = json.loads(info.stdout)
                record["syscalls"] = stats["syscalls"]
                record["buffered_syscalls"] = stats["bufferedSyscalls"]
                record["trace_bytes"] = stats["traceBytes"]
                log("   magprov record --syscall-buffer: %d of %d syscalls buffered (%.1f%%)" % (
                    stats["bufferedSyscalls"], stats["syscalls"],
                    100.0 * stats["bufferedSyscalls"] / stats["syscalls"] if stats["syscalls"] else 0))
            except (ValueError, KeyError, OSError):
                self.fail(workload.name, contender.label, round_label,
                          "magprov info --json failed: " + info.stderr.strip()[-200:])
        shutil.rmtree(run_dir, ignore_errors=True)
        return record

    def record_replay_trace(self, workload: wl.Workload) -> None:
        """The untimed recording that `magprov replay` replays in every round."""
        trace = cont.replay_trace_path(self.scratch, workload.name)
        shutil.rmtree(trace, ignore_errors=True)
        os.makedirs(os.path.dirname(trace), exist_ok=True)
        run_dir = os.path.join(self.scratch, "runs", workload.name, "replay-trace")
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        if workload.prepare:
            workload.prepare(run_dir)
        result = measure.run_command([self.magprov, "record", "-o", trace, "--", *workload.argv],
                                     run_dir, self.timeout, workload.env)
        if result.status != 0 or result.timed_out:
            self.fail(workload.name, "magprov record (for replay)", "setup",
                      "could not record the trace to replay: " + result.stderr_tail.strip()[-300:])
        shutil.rmtree(run_dir, ignore_errors=True)

    def measure_workload(self, workload: wl.Workload, contenders: List[cont.Contender]) -> Dict[str, object]:
        quick = self.args.quick
        runs = self.args.runs or (1 if quick else 3)
        if workload.max_runs and not quick:
            runs = min(runs, workload.max_runs)
        # The taint replay has its own section (taint.py): one round, its own timeout.
        active = [c for c in contenders if c.available and c.key != taint.KEY]
        bare = cont.bare()
        log("== %s (%s): %d round%s, contenders: %s" % (
            workload.name, workload.title, runs, "" if runs == 1 else "s",
            ", ".join(c.label for c in active) or "none"))

        if any(c.key.startswith("magprov-replay") for c in active):
            self.record_replay_trace(workload)

        warm = self.run_once(workload, bare, "warmup", None)
        reference = warm.get("digest")
        if not quick and workload.warm_up_contenders:
            for c in active:
                self.run_once(workload, c, "warmup", reference)

        samples: Dict[str, List[Dict[str, object]]] = {c.key: [] for c in [bare] + active}
        for i in range(runs):
            round_label = "round%d" % (i + 1)
            base = self.run_once(workload, bare, round_label, reference)
            samples["bare"].append(base)
            line = ["bare %.3fs" % base["wall"]]
            for c in active:
                r = self.run_once(workload, c, round_label, reference)
                r["ratio"] = r["wall"] / base["wall"] if base["wall"] > 0 else float("nan")
                samples[c.key].append(r)
                line.append("%s %.2fs (%.1fx)" % (c.label, r["wall"], r["ratio"]))
            log("   %s: %s" % (round_label, "; ".join(line)))

        return report.summarize_workload(workload, runs, samples, active)


def write_results(document: Dict[str, object], out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(document, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(report.markdown(document))
    with open(os.path.join(out_dir, "latest.svg"), "w") as f:
        f.write(chart.svg(document))
    lineage_chart = refinement.svg(document)
    if lineage_chart:
        with open(os.path.join(out_dir, "refinement.svg"), "w") as f:
            f.write(lineage_chart)


def main(argv: List[str]) -> int:
    args = parse_arguments(argv)
    if args.render:
        with open(args.render) as f:
            document = json.load(f)
        write_results(document, os.path.dirname(os.path.abspath(args.render)))
        print(report.terminal(document))
        return 0
    started = time.perf_counter()
    date = datetime.datetime.now(datetime.timezone.utc)
    sections = [args.only] if args.only else [cont.RECORD, cont.REPLAY]
    scratch = os.path.join(BENCHMARKS, "results", "tmp")
    os.makedirs(scratch, exist_ok=True)
    full_publishable = not args.quick and not args.only and not args.workloads
    out_dir = args.out or (os.path.join(BENCHMARKS, "results") if full_publishable
                           else os.path.join(scratch, "partial"))

    # Taken before the build and the runs, which take long enough for the tree to move on.
    commit, sources_commit = git_commit(), git_commit("Sources", "Package.swift")
    magprov = magprov_binary()
    machine = machine_description()
    load_at_start = os.getloadavg()
    log("machine: %s, %s cores, %s, %s, kernel %s, %s" % (
        machine["cpu"], machine["cores"], machine["memory"], machine["os"], machine["kernel"], machine["pmu"]))

    t = time.perf_counter()
    workloads = wl.make_workloads(REPO, os.path.join(scratch, "inputs"), args.quick)
    if args.workloads:
        wanted = set(args.workloads.split(","))
        unknown = wanted - {w.name for w in workloads}
        if unknown:
            log("unknown workload(s): %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(w.name for w in workloads)))
            return 2
        workloads = [w for w in workloads if w.name in wanted]
    log("inputs generated in %.1f s" % (time.perf_counter() - t))

    probe = [os.path.join(scratch, "inputs", "bin", "storm"), "10"]
    contenders = cont.discover(magprov, sections, cont.Installer(log), scratch, probe)
    for c in contenders:
        log("contender %-24s %s" % (c.label, "ok " + c.version if c.available else c.reason))

    bench = Bench(args, magprov, scratch)
    results = [bench.measure_workload(w, contenders) for w in workloads]
    shutil.rmtree(os.path.join(scratch, "replay-traces"), ignore_errors=True)

    available = {c.key for c in contenders if c.available}
    taint_available = cont.REPLAY in sections and taint.KEY in available
    taint_input = args.taint_input or ("small" if args.quick else "same")
    taint_timeout = args.taint_timeout or (90.0 if args.quick else 1200.0)
    budget = taint.Budget(args.taint_budget if args.taint_budget is not None else (150.0 if args.quick else None))
    memory_cap_kb = int(args.taint_memory_cap * 1024 * 1024) if args.taint_memory_cap else taint.default_memory_cap_kb()

    # The taint section: plain replay, replay --taint and memcheck on the same recording.
    taint_document = None
    if taint_available:
        t = time.perf_counter()
        if taint_input == "same":
            taint_workloads = workloads
        else:
            taint_workloads = wl.make_workloads(REPO, os.path.join(scratch, "inputs-taint"), args.quick,
                                                sizes=wl.Sizes.small_for_taint())
            if args.workloads:
                taint_workloads = [w for w in taint_workloads if w.name in set(args.workloads.split(","))]
        valgrind = shutil.which("valgrind") if "valgrind-memcheck" in available else None
        section = taint.TaintSection(magprov, scratch, valgrind, args.quick, bench.timeout, taint_timeout,
                                     memory_cap_kb, budget, bench.fail, log)
        entries = []
        for w in taint_workloads:
            try:
                entries.append(section.measure_workload(w, taint_input == "same"))
            except Exception as e:   # a harness bug must not hide the rest of the results
                bench.fail(w.name, "taint section", "harness", "%s: %s" % (type(e).__name__, e))
        taint_document = {"input": taint_input, "timeout_s": taint_timeout, "memory_cap_kb": memory_cap_kb,
                          "budget_s": budget.total, "quick_instruction_limit": taint.QUICK_INSTRUCTION_LIMIT
                          if args.quick else None, "workloads": entries, "limits": section.limits}
        if taint_input == "same":
            # The main replay table's taint column, from the same inputs.
            by_name = {e["name"]: e for e in entries}
            for result in results:
                cell = taint.main_table_entry(by_name[result["name"]]) if result["name"] in by_name else None
                if cell:
                    result["contenders"][taint.KEY] = cell
        log("taint section in %.1f s" % (time.perf_counter() - t))

        # Precision and recall of why (coarse and refined) against known true sources.
        t = time.perf_counter()
        try:
            truth = ground_truth.measure_all(magprov, scratch, bench.timeout, taint_timeout, memory_cap_kb,
                                             budget, bench.fail, log)
        except Exception as e:
            bench.fail("ground truth", "harness", "-", "%s: %s" % (type(e).__name__, e))
            truth = None
        taint_document["ground_truth"] = truth
        log("ground truth measured in %.1f s" % (time.perf_counter() - t))

        # The attack scenario (Fixtures/apt): lineage answers coarse vs refined, for refinement.svg.
        t = time.perf_counter()
        try:
            taint_document["attack_scenario"] = refinement.attack_scenario(
                magprov, REPO, scratch, bench.timeout, taint_timeout, memory_cap_kb, bench.fail, log)
        except Exception as e:
            bench.fail("attack scenario", "harness", "-", "%s: %s" % (type(e).__name__, e))
        log("attack scenario measured in %.1f s" % (time.perf_counter() - t))

    # Guest MIPS on one core and the ratio to valgrind --tool=none (the replay issue's
    # measure), when replay works: gzip of 10 MB (1 MB in --quick); the taint replay's
    # figures against its targets (on 500 KB in --quick).
    speed = None
    if cont.REPLAY in sections and "magprov-replay" in available:
        t = time.perf_counter()
        size = 1_000_000 if args.quick else 10_000_000
        taint_size = (size if taint_input == "same" else 500_000) if taint_available else None
        try:
            speed = replay_speed.measure_speed(magprov, os.path.join(scratch, "replay-speed"), size, taint_size,
                                               taint_timeout, memory_cap_kb, budget, bench.timeout)
        except Exception as e:
            speed = {"error": "%s: %s" % (type(e).__name__, e)}
        log("replay speed measured in %.1f s: %s" % (time.perf_counter() - t, json.dumps(speed)))
        if "error" in speed:
            bench.fail("replay speed (gzip)", "magprov replay", "single-core run", speed["error"])
        elif speed.get("taint", {}).get("error") and not speed["taint"]["error"].startswith("skipped"):
            bench.fail("replay speed (gzip)", "magprov replay --taint", "single-core run", speed["taint"]["error"])
        elif speed.get("taint", {}).get("stopped"):
            log("!!! LIMIT replay speed (gzip) / magprov replay --taint: %s (not a failure)" % speed["taint"]["stopped"])
            if taint_document is not None:
                taint_document["limits"].append({"workload": "replay speed (gzip)", "what": speed["taint"]["stopped"]})
        shutil.rmtree(os.path.join(scratch, "replay-speed"), ignore_errors=True)

    command = "Benchmarks/run" + ("".join(" " + a for a in argv))
    document = {
        "schema": 1,
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "mode": "quick" if args.quick else "full",
        "machine": machine,
        # The machine is shared: the 1/5/15-minute load averages say how busy it was.
        "load_average": {"start": [round(x, 2) for x in load_at_start],
                         "end": [round(x, 2) for x in os.getloadavg()]},
        "magprov": {"binary": magprov, "commit": commit, "sources_commit": sources_commit,
                    "version": next((c.version for c in contenders if c.key == "magprov-record"), "")},
        "contenders": [{"key": c.key, "label": c.label, "section": c.section, "available": c.available,
                        "reason": c.reason, "cell": c.cell, "version": c.version} for c in contenders],
        "workloads": results,
        "replay_speed": speed,
        "taint": taint_document,
        "failures": bench.failures,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    write_results(document, out_dir)
    print(report.terminal(document))
    log("results: %s/latest.{json,md,svg} and refinement.svg; %.0f s in all" % (os.path.relpath(out_dir), document["elapsed_seconds"]))
    if bench.failures:
        log("FAILED: %d problem(s); see the list above and 'failures' in latest.json" % len(bench.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
