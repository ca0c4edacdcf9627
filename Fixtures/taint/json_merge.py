# Ground truth: a Python script that reads three JSON files and writes one built from two.
# Usage: python3 -I -S json_merge.py A B C OUT
#
# OUT = {"name": A["name"], "version": A["version"], "license": B["license"],
#        "authors": B["authors"]}, written with json.dump(..., indent=None, sort_keys=False).
# C is parsed completely (json.load) and dropped; the test gives C keys that A and B do
# not have, so no string of C is shared with (interned into) what OUT uses.
#
# True flows and the statuses refinement must give:
#   OUT <- A: confirmed; the bytes of A's "name" string value reach the same characters
#             of OUT's "name" value (copied through str objects and the json encoder)
#   OUT <- B: confirmed; likewise for B's "license" string value
#   OUT <- C: implicit (the JSON scanner branched on every byte of C; nothing of it is
#             copied or computed into OUT) -- issue 8's rule: never refuted
import json
import sys

a_path, b_path, c_path, out_path = sys.argv[1:5]
with open(a_path) as f:
    a = json.load(f)
with open(b_path) as f:
    b = json.load(f)
with open(c_path) as f:
    json.load(f)
merged = {"name": a["name"], "version": a["version"], "license": b["license"], "authors": b["authors"]}
with open(out_path, "w") as f:
    json.dump(merged, f)
