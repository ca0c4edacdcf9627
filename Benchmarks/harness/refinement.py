"""How much the taint refinement shrinks lineage answers: nodes and edges of `magprov why`
/ `impact`, coarse against refined, for the attack scenario (Fixtures/apt) and the taint
section's workloads; drawn as refinement.svg (grouped bars, written by hand like chart.py).

A lineage answer's size: its nodes are the target(s) and the entries `why`/`impact --json`
list (system files hidden, as a user reads the answer); its edges are the store's lineage
edges between those nodes.  Which edges lineage follows in each mode is the condition of
the graph store's own partial indexes (GraphStore.edgeFilter: `flow_by_target` for the
coarse graph, `derivation_by_target` for the refined one), read from provenance.sqlite so
that the harness holds no copy of it; the harness checks that the same condition reaches
exactly the nodes magprov answered (a mismatch is a failure, not a figure).

The attack scenario: Fixtures/apt/setup.sh prepares the victim's files and the server's
folder, `magprov record -- sh Fixtures/apt/attack.sh HTTPD FETCH` records the whole
attack (loopback only), `magprov replay --taint` refines it, and the chart shows `why
exfil/loot.dat` (the file the attacker downloaded) and `impact home/.ssh/id_rsa`.  The
downloaded file must be the two secrets, XORed as payload.c does (the harness's check of
the recording's output); a wrong output or a
failed replay is a failure.  Tests/RefinementTests/AttackScenarioTests.swift asserts the
exact true sources and sinks; this module only measures sizes.  A third query, `impact
home/.bash_history` (read by the payload and dropped), shows what a false edge costs.
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
from typing import Callable, Dict, List, Optional, Tuple
from xml.sax.saxutils import escape

import measure

MODES = ("coarse", "refined")


# --- one lineage answer ------------------------------------------------------------------

def _index_condition(db: sqlite3.Connection, index: str) -> str:
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)).fetchone()
    if not row or " WHERE " not in row[0]:
        raise ValueError("provenance.sqlite has no partial index %s: the store's schema changed" % index)
    return row[0].split(" WHERE ", 1)[1].strip()


def lineage_size(magprov: str, trace: str, target: str, direction: str, mode: str, cwd: str,
                 timeout: float) -> Dict[str, object]:
    """{"nodes", "edges", "files", "processes"} of `magprov why|impact TRACE TARGET --json`
    (`--coarse` for mode "coarse"), or {"error": ...}."""
    argv = [magprov, "why" if direction == "why" else "impact", trace, target, "--json"]
    if mode == "coarse":
        argv.append("--coarse")
    r = measure.run_command(argv, cwd, timeout)
    try:
        with open(r.stdout_path) as f:
            answer = json.load(f)
    except (OSError, ValueError):
        answer = None
    if r.status != 0 or not isinstance(answer, dict):
        return {"error": "%s exit status %d: %s" % (" ".join(argv[1:2] + argv[3:]), r.status,
                                                   " ".join(r.stderr_tail.split())[-200:])}
    if answer.get("graph") != mode:
        return {"error": "%s answered from the %s graph" % (argv[1], answer.get("graph"))}
    targets = [t["id"] for t in answer.get("targets", [])]
    entries = answer.get("lineage", [])
    shown = set(targets) | {e["id"] for e in entries}
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(trace, "provenance.sqlite"), uri=True)
    try:
        condition = _index_condition(db, "flow_by_target" if mode == "coarse" else "derivation_by_target")
        near, far = ("target", "source") if direction == "why" else ("source", "target")
        seeds = " UNION ".join("SELECT %d" % int(t) for t in targets) or "SELECT -1"
        # The condition names edge columns unqualified; reach's only column is id.
        reach = ("WITH RECURSIVE reach(id) AS (%s UNION SELECT edge.%s FROM edge JOIN reach ON edge.%s = reach.id "
                 "WHERE %s) " % (seeds, far, near, condition))
        reached = db.execute(reach + "SELECT count(*) FROM reach").fetchone()[0]
        expected = len(shown) + int(answer.get("hiddenSystemFiles", 0))
        if reached != expected:
            return {"error": "the store's lineage condition reaches %d nodes, magprov answered %d" % (reached, expected)}
        ids = ",".join(str(int(i)) for i in shown)
        edges = db.execute("SELECT count(*) FROM edge WHERE %s AND source IN (%s) AND target IN (%s)"
                           % (condition, ids, ids)).fetchone()[0]
    finally:
        db.close()
    return {"nodes": len(shown), "edges": edges,
            "files": sum(1 for e in entries if e.get("kind") == "file"),
            "processes": sum(1 for e in entries if e.get("kind") == "process"),
            "hidden_system_files": int(answer.get("hiddenSystemFiles", 0))}


def measure_query(magprov: str, trace: str, target: str, direction: str, label: str, cwd: str,
                  timeout: float) -> Dict[str, object]:
    """Both modes of one query: {"label", "query", "coarse": {...}, "refined": {...}}."""
    entry: Dict[str, object] = {"label": label, "query": "%s %s" % (direction, label.split(": ", 1)[-1])}
    for mode in MODES:
        entry[mode] = lineage_size(magprov, trace, target, direction, mode, cwd, timeout)
    return entry


# --- the taint section's workloads -------------------------------------------------------

def workload_query(workload, record_dir: str) -> Optional[Tuple[str, str, str]]:
    """(direction, target path, what to call it) for a workload's trace, None when it has
    no file to ask about (the syscall storm reads /dev/zero only).  Programs that name an
    input file: `impact` of it; the make build and the Python script: `why` of the file
    they write."""
    if workload.name == "make":
        return "why", os.path.join(record_dir, "build", "fixture"), "build/fixture"
    if workload.name == "python-json":
        return "why", os.path.join(record_dir, workload.output), workload.output
    if workload.name == "tar":
        tree = workload.argv[workload.argv.index("-C") + 1]
        return "impact", os.path.join(tree, "tree", "dir00", "file0000.txt"), "tree/dir00/file0000.txt"
    if workload.name == "pipeline":
        path = re.search(r"cat (\S+)", workload.argv[-1])
        return ("impact", path.group(1), os.path.basename(path.group(1))) if path else None
    last = workload.argv[-1]
    if os.path.isabs(last) and os.path.isfile(last):
        return "impact", last, os.path.basename(last)
    return None


def measure_workload(magprov: str, trace: str, workload, record_dir: str, timeout: float) -> Optional[Dict[str, object]]:
    query = workload_query(workload, record_dir)
    if query is None:
        return None
    direction, target, name = query
    cwd = os.path.join(os.path.dirname(record_dir), "lineage")
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    return measure_query(magprov, trace, target, direction, "%s: %s" % (workload.name, name), cwd, timeout)


# --- the attack scenario -----------------------------------------------------------------

_KEY = bytes([0x13, 0x37, 0xc0, 0xde])


def attack_scenario(magprov: str, repo: str, scratch: str, timeout: float, taint_timeout: float,
                    memory_cap_kb: int, fail: Callable[[str, str, str, str], None],
                    log: Callable[[str], None]) -> Dict[str, object]:
    """Records Fixtures/apt/attack.sh, replays it with --taint and measures two queries."""
    name, label = "attack scenario", "refinement chart"
    fixtures = os.path.join(repo, "Fixtures", "apt")
    root = os.path.join(scratch, "attack-scenario")
    shutil.rmtree(root, ignore_errors=True)
    bin_dir, run = os.path.join(root, "bin"), os.path.join(root, "run")
    os.makedirs(bin_dir)
    os.makedirs(run)
    result: Dict[str, object] = {"command": "sh Fixtures/apt/attack.sh HTTPD FETCH", "queries": []}
    try:
        binaries = {}
        for program in ("httpd", "fetch", "payload"):
            binaries[program] = os.path.join(bin_dir, program)
            subprocess.run(["gcc", "-O2", "-o", binaries[program], os.path.join(fixtures, program + ".c")],
                           check=True, capture_output=True)
        subprocess.run(["sh", os.path.join(fixtures, "setup.sh"), binaries["payload"]], cwd=run, check=True,
                       capture_output=True)
        trace = os.path.join(root, "trace")
        r = measure.run_command([magprov, "record", "-o", trace, "--", "sh", os.path.join(fixtures, "attack.sh"),
                                 binaries["httpd"], binaries["fetch"]], run, timeout)
        if r.status != 0 or r.timed_out:
            fail(name, "magprov record", label, "exit status %d: %s" % (r.status, " ".join(r.stderr_tail.split())[-300:]))
            result["error"] = "could not record"
            return result

        def read(path: str) -> bytes:
            with open(os.path.join(run, path), "rb") as f:
                return f.read()
        expected = bytes(b ^ 0x5a for b in read("home/notes.txt")) + bytes(
            b ^ _KEY[i % 4] for i, b in enumerate(read("home/.ssh/id_rsa")))
        if read("exfil/loot.dat") != expected:
            fail(name, "magprov record", label, "OUTPUT MISMATCH: exfil/loot.dat is not the staged secrets")
            result["error"] = "wrong output"
            return result
        queries = os.path.join(root, "queries")
        os.makedirs(queries)
        r = measure.run_command([magprov, "replay", "--taint", trace], queries, taint_timeout, memory_cap_kb=memory_cap_kb)
        result["taint_wall"] = round(r.wall, 2)
        if r.status != 0 or r.timed_out or r.over_memory:
            what = ("timed out after %.0f s" % taint_timeout if r.timed_out else "killed above the memory cap"
                    if r.over_memory else "exit status %d; %s" % (r.status, " ".join(r.stdout_tail.split())[-300:]))
            fail(name, "magprov replay --taint", label, what)
            result["error"] = "replay --taint: " + what
            return result
        for direction, path in (("why", "exfil/loot.dat"), ("impact", "home/.ssh/id_rsa"),
                                ("impact", "home/.bash_history")):
            entry = measure_query(magprov, trace, os.path.join(run, path), direction, "attack: " + path, queries, timeout)
            result["queries"].append(entry)
            for mode in MODES:
                if "error" in entry[mode]:
                    fail(name, "magprov %s%s" % (direction, " --coarse" if mode == "coarse" else ""), label,
                         entry[mode]["error"])
        log("   attack scenario: %s" % "; ".join(_query_text(q) for q in result["queries"]))
        return result
    except (OSError, subprocess.CalledProcessError) as e:
        fail(name, "harness", label, "%s: %s" % (type(e).__name__, e))
        result["error"] = str(e)
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _size_text(size: Dict[str, object]) -> str:
    return size["error"] if "error" in size else "%d nodes, %d edges" % (size["nodes"], size["edges"])


def _query_text(q: Dict[str, object]) -> str:
    return "%s: coarse %s, refined %s" % (q["query"], _size_text(q["coarse"]), _size_text(q["refined"]))


# --- the document's queries, tables, chart -----------------------------------------------

def queries(document) -> List[Dict[str, object]]:
    """The attack scenario's queries, then each taint workload's, in run order."""
    section = document.get("taint") or {}
    found = list((section.get("attack_scenario") or {}).get("queries", []))
    found += [w["lineage"] for w in section.get("workloads", []) if w.get("lineage")]
    return found


def rows(document):
    header = ["query", "coarse nodes", "refined nodes", "coarse edges", "refined edges"]
    table = []
    for q in queries(document):
        c, r = q["coarse"], q["refined"]
        def cell(size, key):
            return "error" if "error" in size else str(size[key])
        table.append([q["label"].split(": ")[0] + ": `%s`" % q["query"], cell(c, "nodes"), cell(r, "nodes"),
                      cell(c, "edges"), cell(r, "edges")])
    return header, table


COLORS = {("coarse", "nodes"): "#9ecae1", ("refined", "nodes"): "#2171b5",
          ("coarse", "edges"): "#fdae6b", ("refined", "edges"): "#d94801"}
BARS = (("coarse", "nodes"), ("refined", "nodes"), ("coarse", "edges"), ("refined", "edges"))


def svg(document) -> Optional[str]:
    """refinement.svg, or None when the run measured no lineage."""
    found = queries(document)
    if not found:
        return None
    values = [q[mode][key] for q in found for mode, key in BARS if key in q[mode]]
    top = max(values + [1])
    # A 1-2-5 step above the largest value.
    scale = 1
    while scale * 10 < top:
        scale *= 10
    top = next(scale * s for s in (1, 2, 5, 10) if scale * s >= top)
    width, left, right, top_margin, plot_height = max(640, 80 + 135 * len(found)), 60, 20, 64, 300
    height = top_margin + plot_height + 96
    plot_width = width - left - right

    def y(v: float) -> float:
        return top_margin + plot_height * (1 - v / top)

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">' % (width, height, width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="%d" y="22" font-size="16" font-weight="bold">magprov: lineage answers, coarse graph vs '
        'refined by taint (nodes and edges)</text>' % left,
        '<text x="%d" y="42" fill="#555">%s · %s · system files hidden, as `why`/`impact` list them</text>' % (
            left, escape(document.get("date", "")), escape(document.get("command", ""))),
    ]
    for k in range(0, 6):
        v = top * k / 5
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>' % (
            left, width - right, y(v), y(v), "#999" if k == 0 else "#e5e5e5"))
        parts.append('<text x="%d" y="%.1f" text-anchor="end" fill="#333">%g</text>' % (left - 6, y(v) + 4, v))
    group = plot_width / len(found)
    bar = group * 0.8 / len(BARS)
    for i, q in enumerate(found):
        x0 = left + i * group + group * 0.1
        for j, (mode, key) in enumerate(BARS):
            x = x0 + j * bar
            size = q[mode]
            if key not in size:
                parts.append('<text x="%.1f" y="%.1f" font-size="9" fill="#d00" text-anchor="middle">n/a</text>' % (
                    x + bar * 0.46, y(0) - 4))
                continue
            v = size[key]
            parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s %s: %d'
                         '</title></rect>' % (x, y(v), bar * 0.9, y(0) - y(v), COLORS[(mode, key)],
                                              escape(q["query"]), mode, key, v))
            parts.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle">%d</text>' % (
                x + bar * 0.45, y(v) - 3, v))
        what, _, target = q["label"].partition(": ")
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (
            left + (i + 0.5) * group, top_margin + plot_height + 18, escape(what)))
        parts.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="#555">%s %s</text>' % (
            left + (i + 0.5) * group, top_margin + plot_height + 32, escape(q["query"].split(" ")[0]),
            escape(os.path.basename(target))))
    legend_y = top_margin + plot_height + 60
    for j, (mode, key) in enumerate(BARS):
        lx = left + j * 150
        parts.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, legend_y - 10, COLORS[(mode, key)]))
        parts.append('<text x="%d" y="%d">%s %s</text>' % (lx + 18, legend_y, mode, key))
    parts.append('<text x="%d" y="%d" fill="#555" font-size="11">attack: Fixtures/apt (fetch a payload from a '
                 'loopback server, stage two secrets, download them); other groups: the taint section\'s '
                 'workloads</text>' % (left, legend_y + 22))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
