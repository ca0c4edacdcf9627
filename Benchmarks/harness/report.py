"""Turning samples into summaries, and summaries into the terminal table and latest.md."""

from typing import Dict, List

import ground_truth
import refinement
import replay_speed
import measure
import taint

SECTIONS = (("record", "Recording"), ("replay", "Replay and dynamic instrumentation"))


def summarize_workload(workload, runs: int, samples: Dict[str, List[Dict[str, object]]], active) -> Dict[str, object]:
    """Medians and ranges of one workload's rounds; failed runs are counted, not averaged."""
    def ok(key):
        return [s for s in samples[key] if s["ok"]]

    bare_ok = ok("bare")
    result: Dict[str, object] = {
        "name": workload.name, "title": workload.title, "runs": runs, "notes": workload.notes,
        "input_bytes": workload.input_bytes, "argv": workload.argv,
        "bare": {"wall": measure.summary([s["wall"] for s in bare_ok]),
                 "cpu": measure.summary([s["cpu"] for s in bare_ok]),
                 "walls": [round(s["wall"], 4) for s in samples["bare"]]},
        "contenders": {},
    }
    for c in active:
        good = ok(c.key)
        entry = {
            "wall": measure.summary([s["wall"] for s in good]),
            "cpu": measure.summary([s["cpu"] for s in good]),
            "ratio": measure.summary([s["ratio"] for s in good]),
            "walls": [round(s["wall"], 4) for s in samples[c.key]],
            "ratios": [round(s["ratio"], 3) for s in samples[c.key]],
            "failed_runs": len(samples[c.key]) - len(good),
        }
        if c.artifact:
            entry["artifact_bytes"] = measure.summary([s["artifact_bytes"] for s in good if "artifact_bytes" in s])
        result["contenders"][c.key] = entry

    recorded = [s for s in ok("magprov-record") if "trace_bytes" in s] if "magprov-record" in samples else []
    bare_median = result["bare"]["wall"].get("median")
    if recorded and bare_median:
        trace_bytes = measure.median([s["trace_bytes"] for s in recorded])
        syscalls = measure.median([s["syscalls"] for s in recorded])
        record_median = measure.median([s["wall"] for s in recorded])
        result["trace"] = {
            "trace_bytes": trace_bytes, "syscalls": syscalls,
            "processes": measure.median([s["processes"] for s in recorded]),
            "trace_mb_per_bare_second": trace_bytes / 1e6 / bare_median,
            "syscalls_per_bare_second": syscalls / bare_median,
            "trace_mb_per_record_second": trace_bytes / 1e6 / record_median,
            "syscalls_per_record_second": syscalls / record_median,
        }
        hashed = [s for s in recorded if "hash_bytes" in s]
        if hashed:
            hash_seconds = measure.median([s["hash_seconds"] for s in hashed])
            result["trace"].update({
                "hash_bytes": measure.median([s["hash_bytes"] for s in hashed]),
                "hash_seconds": hash_seconds,
                "hash_share_of_record": hash_seconds / record_median if record_median else 0,
            })
    buffered = [s for s in ok("magprov-record-buffered") if "buffered_syscalls" in s] \
        if "magprov-record-buffered" in samples else []
    if buffered:
        result["buffered"] = {
            "syscalls": measure.median([s["syscalls"] for s in buffered]),
            "buffered_syscalls": measure.median([s["buffered_syscalls"] for s in buffered]),
            "trace_bytes": measure.median([s["trace_bytes"] for s in buffered]),
        }
    return result


def ratio_text(summary: Dict[str, float], unicode: bool = True) -> str:
    if summary.get("n", 0) == 0:
        return "FAILED"
    times = "×" if unicode else "x"
    dash = "–" if unicode else "-"
    def f(v):
        return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v
    if summary["n"] == 1:
        return "%s%s" % (f(summary["median"]), times)
    return "%s%s (%s%s%s)" % (f(summary["median"]), times, f(summary["min"]), dash, f(summary["max"]))


def seconds_text(summary: Dict[str, float], unicode: bool = True) -> str:
    if summary.get("n", 0) == 0:
        return "FAILED"
    dash = "–" if unicode else "-"
    def f(v):
        return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v if v >= 1 else "%.3f" % v
    if summary["n"] == 1:
        return "%s s" % f(summary["median"])
    return "%s s (%s%s%s)" % (f(summary["median"]), f(summary["min"]), dash, f(summary["max"]))


def bytes_text(n: float) -> str:
    if n < 1e4:
        return "%d B" % n
    if n < 1e7:
        return "%.1f KB" % (n / 1e3)
    return "%.1f MB" % (n / 1e6)


def rate_text(n: float) -> str:
    if n >= 1e6:
        return "%.1f M" % (n / 1e6)
    if n >= 1e3:
        return "%.1f k" % (n / 1e3)
    return "%.0f" % n


def _cell(document, workload, contender, unicode=True) -> str:
    if not contender["available"]:
        return contender["cell"]
    entry = workload["contenders"].get(contender["key"])
    if entry is None:
        if contender["key"] == taint.KEY and document.get("taint"):
            return "see taint section" + (" (small input)" if document["taint"].get("input") == "small" else "")
        return "-"
    if entry.get("cell_text"):
        return entry["cell_text"]
    text = ratio_text(entry["ratio"], unicode)
    if entry["failed_runs"] and entry["ratio"].get("n", 0):
        text += " (%d failed)" % entry["failed_runs"]
    return text


def _section_rows(document, section, unicode=True):
    columns = [c for c in document["contenders"] if c["section"] == section]
    if not columns:
        return None, None, None
    header = ["workload", "bare"] + [c["label"] for c in columns]
    rows = [[w["title"], seconds_text(w["bare"]["wall"], unicode)] +
            [_cell(document, w, c, unicode) for c in columns] for w in document["workloads"]]
    reasons = [c["reason"] for c in columns if not c["available"]]
    return header, rows, reasons


def _trace_rows(document):
    labels = {c["key"]: c for c in document["contenders"]}
    header = ["workload", "syscalls", "magprov trace", "trace MB/s of bare run",
              "syscalls/s of bare run", "SHA-256 hashed", "hashing s (share of record)",
              "--syscall-buffer: buffered / syscalls", "strace log", "ReproZip dir"]
    rows = []
    for w in document["workloads"]:
        t = w.get("trace")
        if not t:
            continue
        def artifact(key):
            e = w["contenders"].get(key, {}).get("artifact_bytes")
            return bytes_text(e["median"]) if e and e.get("n") else ("unavailable" if key in labels and not labels[key]["available"] else "-")
        rows.append([w["title"], "{:,}".format(int(t["syscalls"])), bytes_text(t["trace_bytes"]),
                     "%.1f" % t["trace_mb_per_bare_second"], rate_text(t["syscalls_per_bare_second"]),
                     bytes_text(t["hash_bytes"]) if "hash_bytes" in t else "-",
                     "%.3f (%.1f%%)" % (t["hash_seconds"], 100 * t["hash_share_of_record"]) if "hash_seconds" in t else "-",
                     _buffered_text(w.get("buffered")), artifact("strace"), artifact("reprozip")])
    return header, rows


def _buffered_text(b) -> str:
    """'N of M (P%)': syscalls the --syscall-buffer recording logged without a stop."""
    if not b or not b["syscalls"]:
        return "-"
    return "{:,} of {:,} ({:.0f}%)".format(int(b["buffered_syscalls"]), int(b["syscalls"]),
                                          100.0 * b["buffered_syscalls"] / b["syscalls"])


def _kb_text(kb) -> str:
    if not kb:
        return "-"
    return "%.1f GB" % (kb / 1024 / 1024) if kb >= 1024 * 1024 else "%.0f MB" % (kb / 1024) if kb >= 10 * 1024 \
        else "%.1f MB" % (kb / 1024)


def _times(v, unicode=True) -> str:
    if v is None:
        return "-"
    return ratio_text({"median": v, "n": 1}, unicode)


def _secs(v) -> str:
    if v is None:
        return "-"
    return seconds_text({"median": v, "n": 1})


def _taint_cell(t: Dict[str, object]) -> str:
    status = t.get("status")
    if status == "ok":
        return _secs(t["wall"])
    if status == "timed out":
        return "> %s (timed out)" % _secs(t.get("wall"))
    if status == "over memory":
        return "> memory cap"
    if status == "skipped":
        return "skipped"
    return "FAILED"


def _taint_rows(document, unicode=True):
    """The taint section's two tables: times, and memory/speed/refinement."""
    section = document.get("taint")
    if not section or not section.get("workloads"):
        return None
    time_header = ["workload", "bare", "replay", "replay --taint", "taint / replay", "valgrind memcheck",
                   "memcheck / bare", "taint / memcheck"]
    more_header = ["workload", "guest instructions", "taint guest MIPS per CPU s", "taint peak RSS",
                   "program peak RSS", "taint / program RSS", "confirmed", "implicit", "refuted", "unverified"]
    time_rows, more_rows, notes = [], [], []
    for e in section["workloads"]:
        if e.get("error"):
            time_rows.append([e["title"], e["error"]] + [""] * (len(time_header) - 2))
            continue
        t, r, m, q = e.get("taint", {}), e.get("replay", {}), e.get("memcheck"), e.get("ratios", {})
        time_rows.append([e["title"], _secs(e["bare"]["wall"]), _secs(r["wall"]) if r.get("ok") else "FAILED",
                          _taint_cell(t), _times(q.get("taint_to_replay_wall"), unicode),
                          "not run" if m and "not_run" in m else
                          ("FAILED" if not m["ok"] else _secs(m["wall"])) if m else "unavailable",
                          _times(q.get("memcheck_to_bare"), unicode), _times(q.get("taint_to_memcheck"), unicode)])
        refinement = t.get("refinement") or {}
        pairs = refinement.get("coarseDerivationPairs") or 0

        def count(name):
            if name not in refinement:
                return "-"
            n = refinement[name]
            return "%d (%.0f%%)" % (n, 100.0 * n / pairs) if pairs else str(n)
        more_rows.append([e["title"], "{:,}".format(r["instructions"]) if r.get("instructions") else "-",
                          "%.1f" % t["mips_per_cpu_second"] if t.get("mips_per_cpu_second") is not None else "-",
                          _kb_text(t.get("peak_rss_kb")) if t.get("status") == "ok" else
                          "> %s (stopped)" % _kb_text(t["peak_rss_kb"]) if t.get("peak_rss_kb") and
                          t.get("status") in ("timed out", "over memory") else _taint_cell(t),
                          _kb_text(e.get("program_peak_rss_kb")), _times(q.get("taint_rss_to_program"), unicode),
                          count("confirmed"), count("implicit"), count("refuted"), count("unverified")])
        if t.get("status") not in (None, "ok"):
            notes.append("%s: %s" % (e["name"], t.get("reason", t.get("status"))))
        elif refinement.get("unrefinedProcessCount"):
            notes.append("%s: %d process images not refined (their derivations stay unverified)%s" % (
                e["name"], refinement["unrefinedProcessCount"],
                ": " + "; ".join(refinement["unrefinedProcesses"][:3]) if refinement.get("unrefinedProcesses") else ""))
    return (time_header, time_rows), (more_header, more_rows), notes


def _taint_intro(section) -> str:
    inputs = ("the same inputs as the tables above" if section["input"] == "same" else
              "small inputs (taint replay is slow: 1-5% of the --quick sizes, Sizes.small_for_taint)")
    text = ("One round per workload on %s: the bare command, `magprov replay`, `magprov replay --taint` and "
            "`valgrind --tool=memcheck` on the same recording and input. Each taint replay is stopped after "
            "%.0f s or above %s RSS (a limit, reported, not a failure)" % (
                inputs, section["timeout_s"], _kb_text(section["memory_cap_kb"])))
    if section.get("budget_s"):
        text += "; all taint replays of the run share a budget of %.0f s" % section["budget_s"]
    if section.get("quick_instruction_limit"):
        text += "; --quick skips workloads whose plain replay runs over %.0f M guest instructions" % (
            section["quick_instruction_limit"] / 1e6)
    return text + (". Peak RSS is GNU time's %M (the program's: its largest process); guest MIPS per CPU "
                   "second counts the replay process's user+system time, refinement included; refinement "
                   "counts are the derivations (output <- input through a process) the replay classified.")


def _truth_tables(document):
    section = document.get("taint") or {}
    truth = section.get("ground_truth")
    if not truth:
        return None
    return ground_truth.rows(truth)


def _markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    # A | inside a cell (a shell pipeline) would end it.
    lines += ["| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |" for r in rows]
    return "\n".join(lines)


def _plain_table(header, rows) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    def line(r):
        return "  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w) for i, (x, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def machine_line(document) -> str:
    m = document["machine"]
    return "%s, %s cores, %s RAM, %s, kernel %s, %s" % (
        m["cpu"], m["cores"], m["memory"], m["os"], m["kernel"], m["pmu"])


def _magprov_text(m) -> str:
    text = "repository at %s" % m["commit"]
    if m.get("sources_commit"):
        text += ", Sources/ last changed in %s" % m["sources_commit"]
    if m.get("version"):
        text += ", version %s" % m["version"]
    return text


def _failure_text(f) -> str:
    return "%s / %s (%s): %s" % (f["workload"], f["contender"], f["round"], " ".join(str(f["what"]).split()))


def markdown(document) -> str:
    d = document
    out = ["# magprov benchmarks", "",
           "- Date: %s; %s run, %s" % (d["date"], d["mode"], "%.0f s in all" % d["elapsed_seconds"]),
           "- Command: `%s`" % d["command"],
           "- Machine: %s" % machine_line(d),
           ] + (["- Load average (1/5/15 min) at start %s, at end %s (the machine is shared)" % (
               "/".join("%.1f" % x for x in d["load_average"]["start"]),
               "/".join("%.1f" % x for x in d["load_average"]["end"]))] if "load_average" in d else []) + [
           "- magprov: %s" % _magprov_text(d["magprov"]),
           "- Peers: " + "; ".join(sorted({c["version"] for c in d["contenders"]
                                           if c["available"] and c["version"] and not c["key"].startswith("magprov")})),
           "",
           "Cells are slowdowns against the bare command: median of the per-round ratios "
           "(contender time / bare time of the same round), min–max in brackets. Rounds are "
           "interleaved (bare, A, B, C, bare, A, B, C, ...) after a warm-up; every run's output "
           "is checked against the bare run's.", "",
           "![median slowdown per workload and contender](latest.svg)", ""]
    for section, title in SECTIONS:
        header, rows, reasons = _section_rows(d, section)
        if header is None:
            continue
        out += ["## %s: slowdown against the bare command" % title, "", _markdown_table(header, rows), ""]
        out += ["- " + r for r in reasons] + ([""] if reasons else [])
    header, rows = _trace_rows(d)
    if rows:
        out += ["## Trace size and rate (magprov record, median run)", "",
                "Rates are per second of the bare run: how fast the program produces trace "
                "when it runs at full speed.", "", _markdown_table(header, rows), ""]
    out += ["## Absolute wall times (median, min–max)", ""]
    labels = [c for c in d["contenders"] if c["available"]]
    header = ["workload", "rounds", "bare"] + [c["label"] for c in labels]
    rows = [[w["title"], str(w["runs"]), seconds_text(w["bare"]["wall"])] +
            [(w["contenders"][c["key"]].get("cell_text") or seconds_text(w["contenders"][c["key"]]["wall"]))
             if c["key"] in w["contenders"] else "-" for c in labels]
            for w in d["workloads"]]
    out += [_markdown_table(header, rows), ""]
    notes = ["- %s: %s" % (w["name"], w["notes"]) for w in d["workloads"] if w["notes"]]
    out += ["## Notes", "",
            "- strace -f -o FILE logs syscall names and arguments only, not the data; ReproZip "
            "runs `reprozip trace --dont-identify-packages` (its dpkg look-ups serve packing "
            "only); Valgrind runs with `--trace-children=yes`, like the recorders follow the "
            "whole process tree.",
            "- magprov replay cells check the replay's exit status (it verifies itself against "
            "the trace); all other cells compare output bytes with the bare run. magprov replay "
            "runs with its default `--jobs` (all cores: recorded processes replay in parallel)."] + notes + [""]
    taint_tables = _taint_rows(d)
    if taint_tables:
        (th, tr), (mh, mr), notes = taint_tables
        out += ["## Taint replay: plain replay, `replay --taint` and Valgrind memcheck on the same recording", "",
                _taint_intro(d["taint"]), "", _markdown_table(th, tr), "", _markdown_table(mh, mr), ""]
        out += ["- " + n for n in notes] + ([""] if notes else [])
        if d["taint"].get("limits"):
            out += ["Limits hit (not failures):", ""] + ["- %s: %s" % (l["workload"], l["what"])
                                                         for l in d["taint"]["limits"]] + [""]
    truth = _truth_tables(d)
    if truth:
        (sh, sr), (ch, cr) = truth
        out += ["## Precision and recall of `magprov why` against known true sources", "",
                "Small pipelines whose output's true sources are known, recorded, replayed with `--taint` and "
                "asked `magprov why TRACE out --json`, refined and `--coarse`. Named sources: file entries less "
                "system files, executables and the target (a directory `why` names counts). Precision = true "
                "sources named / sources named, recall = true sources named / true sources, pooled over the cases.",
                "", _markdown_table(sh, sr), "", _markdown_table(ch, cr), ""]
    lh, lr = refinement.rows(d)
    if lr:
        out += ["## Lineage answers: coarse graph vs refined by taint", "",
                "Nodes and edges of `magprov why`/`impact` (system files hidden, as they list them) on the "
                "coarse graph (`--coarse`) and after `replay --taint`: the attack scenario of Fixtures/apt "
                "(`why` of the file the attacker downloaded, `impact` of the stolen key) and the taint "
                "section's workloads (`impact` of their input, `why` of the file they write).", "",
                "![lineage answers, coarse vs refined](refinement.svg)", "", _markdown_table(lh, lr), ""]
    if d.get("replay_speed"):
        out += [replay_speed.markdown(d["replay_speed"])]
    if d["failures"]:
        out += ["## FAILURES", ""] + ["- " + _failure_text(f) for f in d["failures"]] + [""]
    return "\n".join(out)


def terminal(document) -> str:
    d = document
    out = ["", "magprov benchmarks, %s (%s run), %s" % (d["date"], d["mode"], machine_line(d)), ""]
    for section, title in SECTIONS:
        header, rows, reasons = _section_rows(d, section, unicode=False)
        if header is None:
            continue
        out += ["%s: slowdown vs bare (median of per-round ratios, min-max)" % title,
                _plain_table(header, rows)] + reasons + [""]
    header, rows = _trace_rows(d)
    if rows:
        out += ["Trace size and rate (magprov record)", _plain_table(header, rows), ""]
    taint_tables = _taint_rows(d, unicode=False)
    if taint_tables:
        (th, tr), (mh, mr), notes = taint_tables
        out += ["Taint replay (one round; %s input): times" % d["taint"]["input"], _plain_table(th, tr), "",
                "Taint replay: memory, guest speed, refinement", _plain_table(mh, mr)]
        out += ["  " + n for n in notes] + [""]
        if d["taint"].get("limits"):
            out += ["LIMITS (not failures):"] + ["  %s: %s" % (l["workload"], l["what"]) for l in d["taint"]["limits"]] + [""]
    truth = _truth_tables(d)
    if truth:
        (sh, sr), (ch, cr) = truth
        out += ["Precision and recall of magprov why against known true sources",
                _plain_table(sh, [[x.replace("`", "") for x in r] for r in sr]), "",
                _plain_table(ch, [[x.replace("`", "") for x in r] for r in cr]), ""]
    lh, lr = refinement.rows(d)
    if lr:
        out += ["Lineage answers (nodes, edges): coarse vs refined",
                _plain_table(lh, [[x.replace("`", "") for x in r] for r in lr]), ""]
    if d.get("replay_speed"):
        out += [replay_speed.terminal(d["replay_speed"]), ""]
    if d["failures"]:
        out += ["FAILURES:"] + ["  " + _failure_text(f) for f in d["failures"]]
    return "\n".join(out)
