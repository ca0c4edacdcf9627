"""What `magprov replay --json` said: the one place the harness reads a replay's report.

`magprov replay --json` prints one JSON document (Sources/magprov/Replay.swift,
ReplayReport): processImages, completed, diverged, syscalls, instructions, processes
(each with its divergence when there was one) and, with --taint, flowSummaries and the
refinement report.
"""

import json
import os
from typing import Dict, Optional


def refinement_counts(report: Dict[str, object]) -> Dict[str, object]:
    """Counts of a RefinementReport (JSON from the graph store or from replay --json)."""
    keep = ("summaries", "coarseDerivationPairs", "confirmed", "implicit", "refuted", "unverified",
            "confirmedByMetadataOnly", "confirmedByKernelCopy", "confirmedByAddressOnly", "metadataDerivations")
    counts: Dict[str, object] = {k: report[k] for k in keep if k in report}
    unrefined = report.get("unrefinedProcesses", []) or []
    counts["alertCount"] = len(report.get("alerts", []) or [])
    counts["unrefinedProcessCount"] = len(unrefined)
    counts["unrefinedProcesses"] = ["%s: %s" % (os.path.basename(p.get("executable") or "?"), p.get("reason", ""))
                                    for p in unrefined[:10]]
    return counts


def load(text: str) -> Optional[Dict[str, object]]:
    """The report, or None when the output is not one (a replay that failed before it)."""
    try:
        report = json.loads(text)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def parse(text: str) -> Dict[str, object]:
    """images_ok, images, syscalls, instructions and (with --taint) refinement counts;
    empty when the output is not a report."""
    report = load(text)
    if report is None:
        return {}
    result: Dict[str, object] = {"images_ok": report.get("completed"), "images": report.get("processImages"),
                                 "syscalls": report.get("syscalls"), "instructions": report.get("instructions")}
    if isinstance(report.get("refinement"), dict):
        result["refinement"] = refinement_counts(report["refinement"])
    return result


def first_divergence(text: str) -> str:
    """The first divergence of the report, one line (at most 300 characters), or ''."""
    report = load(text)
    for p in (report or {}).get("processes", []) or []:
        d = p.get("divergence")
        if d:
            line = "process %s (%s): divergence in task %s after %s instructions at 0x%x%s: %s" % (
                p.get("pid"), p.get("executable"), d.get("tid"), d.get("instructionCount"), d.get("address", 0),
                " (%s)" % d["function"] if d.get("function") else "", d.get("reason", ""))
            return " ".join(line.split())[:300]
    return ""
