"""Precision and recall of `magprov why` against pipelines whose true sources are known.

Each case is a small shell command over seeded text files whose output's true sources
can be stated exactly (`cat a b | tr a-z A-Z > out`: a and b, not the third file that was
only counted).  The case is recorded, replayed with `--taint`, and then asked
`magprov why TRACE out --json --coarse` and `magprov why TRACE out --json` (refined).

Named sources are the file entries of the answer, less system files (why hides them),
executables (the programs themselves) and the target: directories count, since `why`
named them.  Precision = true sources named / sources named; recall = true sources named
/ true sources.  Refined is scored twice: every entry `why` lists (data, metadata,
implicit and unverified derivations, as a user reads it) and data derivations only.
Totals are pooled over the cases (sums of the counts, not averages of the ratios).

The recorded output is checked against what the command must produce; a wrong output or
a crash is a failure, a low precision is a measurement.
"""

import gzip
import json
import os
import random
import shutil
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Set

import measure
from workloads import SEED, _text


@dataclass
class Case:
    name: str
    command: str                       # run by sh -c in the case's folder
    truth: Set[str]                    # file names (in that folder) out truly came from
    expect: Callable[[Dict[str, bytes]], bytes]   # the inputs -> what out must hold
    note: str = ""


def _sorted_lines(data: bytes) -> bytes:
    return b"".join(sorted(data.splitlines(keepends=True)))


CASES = [
    Case("cat-tr", "wc -c c > count; cat a b | tr a-z A-Z > out", {"a", "b"},
         lambda f: (f["a"] + f["b"]).upper(), "c only counted, by another process"),
    Case("cat-tr-subst", 'n=$(wc -c < c); cat a b | tr a-z A-Z > out', {"a", "b"},
         lambda f: (f["a"] + f["b"]).upper(), "c's size in a shell variable before the pipeline forks"),
    Case("sort", "sort in > out", {"in"}, lambda f: _sorted_lines(f["in"])),
    Case("head-tail", "head -c 100 in | tail -c 50 > out", {"in"}, lambda f: f["in"][50:100]),
    Case("gzip", "gzip -c in > out", {"in"}, lambda f: f["in"]),    # compared after gunzip
    Case("awk-skip", "awk 'FNR==NR{next} {print}' c a > out", {"a"}, lambda f: f["a"],
         "awk reads c first and skips every line of it"),
]

_SIZES = {"a": 2_000, "b": 1_500, "c": 3_000, "in": 4_000}


def _inputs() -> Dict[str, bytes]:
    rng = random.Random(SEED + 7)
    files = {}
    for name, size in _SIZES.items():
        data = _text(rng, size)
        files[name] = data[:data.rindex(b"\n") + 1]    # whole lines
    return files


def named_sources(answer: Dict[str, object], target: str, data_only: bool = False) -> Dict[str, str]:
    """path -> how `why` linked it, for the file entries that count (see the module doc)."""
    named: Dict[str, str] = {}
    for e in answer.get("lineage", []):
        path = e.get("path")
        if e.get("kind") != "file" or not path:
            continue
        if os.path.realpath(path) == os.path.realpath(target):
            continue
        if os.path.isfile(path) and os.access(path, os.X_OK):
            continue        # an executable: the program, not its input
        if data_only and e.get("via") != "data":
            continue
        named.setdefault(os.path.realpath(path), str(e.get("via", "")))
    return named


def _score(named: Set[str], truth: Set[str]) -> Dict[str, int]:
    return {"named": len(named), "true_named": len(named & truth), "truth": len(truth)}


def _ratios(counts: Dict[str, int]) -> Dict[str, Optional[float]]:
    return {"precision": round(counts["true_named"] / counts["named"], 3) if counts["named"] else None,
            "recall": round(counts["true_named"] / counts["truth"], 3) if counts["truth"] else None}


MODES = (("coarse", "coarse graph (`why --coarse`)"),
         ("refined", "refined, every source `why` lists"),
         ("refined_data", "refined, data derivations only"))


def measure_all(magprov: str, scratch: str, timeout: float, taint_timeout: float, memory_cap_kb: int,
                budget, fail: Callable[[str, str, str, str], None],
                log: Callable[[str], None]) -> Dict[str, object]:
    root = os.path.join(scratch, "ground-truth")
    shutil.rmtree(root, ignore_errors=True)
    inputs = _inputs()
    cases: List[Dict[str, object]] = []
    totals = {mode: {"named": 0, "true_named": 0, "truth": 0} for mode, _ in MODES}
    for case in CASES:
        folder = os.path.join(root, case.name)
        os.makedirs(folder)
        for name, data in inputs.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        entry = _measure_case(magprov, case, folder, inputs, timeout, taint_timeout, memory_cap_kb, budget, fail)
        cases.append(entry)
        for mode, _ in MODES:
            if mode in entry.get("scores", {}):
                for k in totals[mode]:
                    totals[mode][k] += entry["scores"][mode][k]
        log("   ground truth %s: %s" % (case.name, entry.get("error") or "; ".join(
            "%s %s" % (mode, ", ".join(entry["named"][mode]) or "(none)")
            for mode, _ in MODES if mode in entry.get("named", {}))))
    shutil.rmtree(root, ignore_errors=True)
    scored = {mode: sum(1 for c in cases if mode in c.get("scores", {})) for mode, _ in MODES}
    return {"cases": cases, "totals": {mode: dict(totals[mode], **_ratios(totals[mode]), cases=scored[mode])
                                       for mode, _ in MODES}}


def _measure_case(magprov, case: Case, folder: str, inputs: Dict[str, bytes], timeout: float, taint_timeout: float,
                  memory_cap_kb: int, budget, fail) -> Dict[str, object]:
    entry: Dict[str, object] = {"name": case.name, "command": case.command, "truth": sorted(case.truth),
                                "note": case.note}
    label = "ground truth"
    trace = os.path.join(folder, "trace")
    run = os.path.join(folder, "run")
    os.makedirs(run)
    r = measure.run_command([magprov, "record", "-o", trace, "--", "sh", "-c", case.command], folder, timeout)
    if r.status != 0 or r.timed_out:
        fail(case.name, "magprov record", label, "exit status %d: %s" % (r.status, " ".join(r.stderr_tail.split())[-300:]))
        entry["error"] = "could not record"
        return entry
    try:
        with open(os.path.join(folder, "out"), "rb") as f:
            out = f.read()
        if case.name == "gzip":
            out = gzip.decompress(out)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        out = ("unreadable: %s" % e).encode()
    if out != case.expect(inputs):
        fail(case.name, "magprov record", label, "OUTPUT MISMATCH: out is not what `%s` must write" % case.command)
        entry["error"] = "wrong output"
        return entry

    if budget.exhausted():
        entry["taint"] = "skipped: " + budget.describe()
    else:
        t = budget.timeout(taint_timeout)
        r = measure.run_command([magprov, "replay", "--taint", trace], run, t, memory_cap_kb=memory_cap_kb)
        budget.charge(r.wall)
        entry["taint_wall"] = round(r.wall, 3)
        if r.over_memory:
            entry["taint"] = "killed above the memory cap"
        elif r.timed_out:
            entry["taint"] = "timed out after %.0f s" % t
        elif r.status != 0:
            entry["taint"] = "failed (exit status %d)" % r.status
            fail(case.name, "magprov replay --taint", label, "exit status %d; %s" % (
                r.status, " ".join(r.stdout_tail.split())[-300:]))
        else:
            entry["taint"] = "ok"

    target = os.path.join(folder, "out")
    truth = {os.path.realpath(os.path.join(folder, n)) for n in case.truth}
    answers: Dict[str, Dict[str, object]] = {}
    for mode, flags in (("coarse", ["--coarse"]), ("refined", [])):
        if mode == "refined" and entry.get("taint") != "ok":
            continue
        r = measure.run_command([magprov, "why", trace, target, "--json", *flags], run, timeout)
        try:
            with open(r.stdout_path) as f:
                answer = json.load(f)
        except (OSError, ValueError):
            answer = None
        if r.status != 0 or answer is None:
            fail(case.name, "magprov why" + (" --coarse" if flags else ""), label,
                 "exit status %d; %s" % (r.status, " ".join(r.stderr_tail.split())[-300:]))
            continue
        if mode == "refined" and answer.get("graph") != "refined":
            entry["refined_problem"] = "why answered from the %s graph after replay --taint" % answer.get("graph")
            continue
        answers[mode] = answer
    named: Dict[str, Dict[str, str]] = {}
    if "coarse" in answers:
        named["coarse"] = named_sources(answers["coarse"], target)
    if "refined" in answers:
        named["refined"] = named_sources(answers["refined"], target)
        named["refined_data"] = named_sources(answers["refined"], target, data_only=True)
    entry["named"] = named
    entry["scores"] = {mode: _score(set(paths), truth) for mode, paths in named.items()}
    def short(p: str) -> str:
        """A name relative to the case's folder ('./' for the folder itself)."""
        if p == os.path.realpath(folder):
            return "./"
        return os.path.relpath(p, folder) if p.startswith(os.path.realpath(folder) + "/") else p
    entry["false_sources"] = {mode: {short(p): via for p, via in paths.items() if p not in truth}
                              for mode, paths in named.items()}
    entry["missed_sources"] = {mode: sorted(short(p) for p in truth - set(paths)) for mode, paths in named.items()}
    entry["named"] = {mode: sorted(short(p) for p in paths) for mode, paths in named.items()}
    return entry


def _percent(x: Optional[float]) -> str:
    return "n/a" if x is None else "%.0f%%" % (x * 100)


def rows(result: Dict[str, object]):
    """(header, rows) of the summary table and (header, rows) of the per-case table."""
    header = ["answer", "precision", "recall", "sources named", "true sources named", "true sources", "cases"]
    summary = []
    for mode, title in MODES:
        t = result["totals"][mode]
        summary.append([title, _percent(t["precision"]), _percent(t["recall"]), str(t["named"]),
                        str(t["true_named"]), str(t["truth"]), str(t["cases"])])
    case_header = ["case", "true sources", "coarse names", "refined names [false ones: how linked]", "refined data only"]
    case_rows = []
    for c in result["cases"]:
        named = c.get("named", {})
        false = c.get("false_sources", {}).get("refined", {})

        def listing(mode):
            if mode not in named:
                return c.get("error") or (c.get("taint", "") if mode != "coarse" and c.get("taint") != "ok"
                                          else c.get("refined_problem", "-"))
            return ", ".join(named[mode]) or "(none)"
        refined = listing("refined")
        if "refined" in named and false:
            refined += " [false: %s]" % ", ".join("%s %s" % (p, via) for p, via in sorted(false.items()))
        case_rows.append(["%s: `%s`" % (c["name"], c["command"]), ", ".join(c["truth"]), listing("coarse"),
                          refined, listing("refined_data")])
    return (header, summary), (case_header, case_rows)
