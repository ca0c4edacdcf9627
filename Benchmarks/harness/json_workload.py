"""Workload "python-json": read event records, transform them, write a JSON summary.

Usage: json_workload.py INPUT.json OUTPUT.json
Deterministic: sorted keys, no time or randomness, so every contender's output must
match the bare run's byte for byte.
"""

import json
import sys


def summarize(events):
    per_user = {}
    for e in events:
        if not e["ok"]:
            continue
        entry = per_user.setdefault(e["user"], {"events": 0, "bytes": 0, "kinds": {}, "tags": set()})
        entry["events"] += 1
        entry["bytes"] += e["bytes"]
        entry["kinds"][e["kind"]] = entry["kinds"].get(e["kind"], 0) + 1
        entry["tags"].update(e["tags"])
    users = [
        {"user": user, "events": v["events"], "bytes": v["bytes"], "kinds": v["kinds"],
         "tags": sorted(v["tags"]), "mean_bytes": round(v["bytes"] / v["events"], 3)}
        for user, v in per_user.items()
    ]
    users.sort(key=lambda u: (-u["bytes"], u["user"]))
    return {"users": users, "total_events": len(events),
            "failed": sum(1 for e in events if not e["ok"])}


def main():
    source, destination = sys.argv[1], sys.argv[2]
    with open(source) as f:
        events = json.load(f)["events"]
    with open(destination, "w") as f:
        json.dump(summarize(events), f, sort_keys=True, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
