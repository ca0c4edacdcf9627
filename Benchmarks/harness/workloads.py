"""The eight benchmark workloads and their deterministic inputs.

A workload is a command (argv) plus what it needs before each run (a fresh copy of the
make fixture) and how its output is read back for the cross-contender check.  Inputs are
generated once per harness run from a fixed seed, so every contender and every round sees
the same bytes, and two harness runs with the same sizes see the same bytes too.
"""

import hashlib
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

SEED = 20261123

# Words for the text inputs: real-looking text compresses and sorts like logs do, which
# random bytes would not.
_VOCABULARY = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
    "zulu open read write close exec fork clone mmap provenance record replay taint "
    "trace kernel process file pipe socket byte label shadow memory syscall signal"
).split()


@dataclass(frozen=True)
class Sizes:
    """Input sizes: the issue's for a full run, about a tenth of them for --quick."""
    gzip_bytes: int
    sort_bytes: int
    sha_bytes: int
    tar_files: int
    json_records: int
    pipeline_bytes: int
    storm_reads: int
    make_units: str          # "" builds all 18 units; --quick builds two

    @staticmethod
    def for_mode(quick: bool) -> "Sizes":
        if quick:
            return Sizes(gzip_bytes=1_000_000, sort_bytes=500_000, sha_bytes=1_000_000,
                         tar_files=200, json_records=2_000, pipeline_bytes=300_000,
                         storm_reads=20_000, make_units="unit_crc32.c unit_fnv.c")
        return Sizes(gzip_bytes=10_000_000, sort_bytes=5_000_000, sha_bytes=10_000_000,
                     tar_files=2_000, json_records=20_000, pipeline_bytes=3_000_000,
                     storm_reads=1_000_000, make_units="")

    @staticmethod
    def small_for_taint() -> "Sizes":
        """The taint section's inputs in --quick (and with --taint-input small): byte-level
        taint replays at 10-20 guest MIPS on gzip today, so these are 5-20% of the --quick
        sizes. make and python3 still run some 100-250 M guest instructions (cc1, the
        interpreter's start-up) and are left to the full run (taint.QUICK_INSTRUCTION_LIMIT)."""
        return Sizes(gzip_bytes=200_000, sort_bytes=50_000, sha_bytes=200_000, tar_files=50,
                     json_records=200, pipeline_bytes=50_000, storm_reads=5_000,
                     make_units="unit_crc32.c")


@dataclass
class Workload:
    """One command to measure.

    argv: the command; output: "stdout" or a path relative to the run's directory;
    prepare(run_dir): untimed setup before every run (each run gets a fresh directory);
    read_output(run_dir, stdout_path): bytes to compare across contenders, when the
    output needs more than reading a file (the make build runs the program it built).
    """
    name: str
    title: str
    argv: List[str]
    output: str = "stdout"
    prepare: Optional[Callable[[str], None]] = None
    read_output: Optional[Callable[[str, str], bytes]] = None
    # The full run's budget (~25 min on 2 cores) cannot give every contender 3+ rounds on
    # the expensive workloads (Valgrind re-translates cc1 for each of 19 compilations; a
    # ptrace stop per read in the storm).  These two cap the rounds and skip the
    # contenders' warm-up there; the bare warm-up still fills the page cache, and the
    # contenders' own binaries are cached by the cheap workloads that run before.
    max_runs: Optional[int] = None          # cap on timed rounds in a full run
    warm_up_contenders: bool = True         # False: warm up only the bare command
    notes: str = ""
    input_bytes: int = 0
    env: Dict[str, str] = field(default_factory=dict)

    def output_digest(self, run_dir: str, stdout_path: str) -> str:
        if self.read_output is not None:
            data = self.read_output(run_dir, stdout_path)
        else:
            path = stdout_path if self.output == "stdout" else os.path.join(run_dir, self.output)
            with open(path, "rb") as f:
                data = f.read()
        return hashlib.sha256(data).hexdigest()


def _text(rng: random.Random, size: int) -> bytes:
    """Lines of 3-12 words with a number, ~size bytes."""
    lines, total = [], 0
    while total < size:
        words = [rng.choice(_VOCABULARY) for _ in range(rng.randint(3, 12))]
        line = "%s %d\n" % (" ".join(words), rng.randrange(1_000_000))
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _file_tree(rng: random.Random, root: str, count: int) -> int:
    """count small files (100 B-4 KB) in 20 folders; fixed mtimes so tar output is stable."""
    total = 0
    for i in range(count):
        folder = os.path.join(root, "dir%02d" % (i % 20))
        os.makedirs(folder, exist_ok=True)
        data = _text(rng, rng.randint(100, 4000))
        path = os.path.join(folder, "file%04d.txt" % i)
        _write(path, data)
        os.utime(path, (1_700_000_000, 1_700_000_000))
        total += len(data)
    for i in range(20):
        folder = os.path.join(root, "dir%02d" % i)
        if os.path.isdir(folder):
            os.utime(folder, (1_700_000_000, 1_700_000_000))
    os.utime(root, (1_700_000_000, 1_700_000_000))
    return total


def _json_records(rng: random.Random, count: int) -> bytes:
    import json
    records = [{
        "id": i,
        "user": rng.choice(_VOCABULARY) + str(rng.randrange(1000)),
        "kind": rng.choice(["read", "write", "exec", "connect"]),
        "bytes": rng.randrange(1 << 20),
        "tags": [rng.choice(_VOCABULARY) for _ in range(rng.randint(0, 4))],
        "ok": rng.random() < 0.9,
    } for i in range(count)]
    return json.dumps({"events": records}).encode()


def build_storm(repo: str, bin_dir: str) -> str:
    """Compile Fixtures/bench/storm.c with gcc; returns the binary's path."""
    os.makedirs(bin_dir, exist_ok=True)
    binary = os.path.join(bin_dir, "storm")
    source = os.path.join(repo, "Fixtures", "bench", "storm.c")
    subprocess.run(["gcc", "-O2", "-o", binary, source], check=True)
    return binary


def make_workloads(repo: str, inputs: str, quick: bool, sizes: Optional[Sizes] = None) -> List[Workload]:
    """Generate the inputs under `inputs` (wiped first) and return the workloads in run order.

    The syscall storm runs last: by then every contender's own binaries are in the page
    cache, which lets it skip warming up the slow ptrace contenders (see Workload.max_runs).
    sizes: instead of the mode's own (the taint section's small inputs).
    """
    sizes = sizes or Sizes.for_mode(quick)
    shutil.rmtree(inputs, ignore_errors=True)
    os.makedirs(inputs)
    rng = random.Random(SEED)
    path = lambda name: os.path.join(inputs, name)

    _write(path("gzip-input.txt"), _text(rng, sizes.gzip_bytes))
    _write(path("sort-input.txt"), _text(rng, sizes.sort_bytes))
    _write(path("sha-input.bin"), rng.randbytes(sizes.sha_bytes))
    tree_bytes = _file_tree(rng, path("tree"), sizes.tar_files)
    _write(path("records.json"), _json_records(rng, sizes.json_records))
    _write(path("pipeline-input.txt"), _text(rng, sizes.pipeline_bytes))
    storm = build_storm(repo, os.path.join(inputs, "bin"))

    fixture = os.path.join(repo, "Fixtures", "bench", "build")

    def copy_fixture(run_dir: str) -> None:
        shutil.copytree(fixture, os.path.join(run_dir, "build"))

    def run_built_program(run_dir: str, stdout_path: str) -> bytes:
        program = os.path.join(run_dir, "build", "fixture")
        return subprocess.run([program], check=True, capture_output=True).stdout

    json_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "json_workload.py")
    pipeline = ("cat %s | tr -s ' ' '\\n' | grep -v '^[0-9]*$' | sort | uniq -c"
                % path("pipeline-input.txt"))
    mb = lambda n: "%.1f MB" % (n / 1e6) if n >= 100_000 else "%d KB" % round(n / 1e3)
    return [
        Workload("gzip", "gzip -c, %s text" % mb(sizes.gzip_bytes),
                 ["gzip", "-c", path("gzip-input.txt")], input_bytes=sizes.gzip_bytes),
        Workload("sort", "sort, %s text" % mb(sizes.sort_bytes),
                 ["sort", path("sort-input.txt")], input_bytes=sizes.sort_bytes),
        Workload("sha256sum", "sha256sum, %s" % mb(sizes.sha_bytes),
                 ["sha256sum", path("sha-input.bin")], input_bytes=sizes.sha_bytes),
        Workload("tar", "tar c, %d files" % sizes.tar_files,
                 ["tar", "c", "-C", inputs, "tree"], input_bytes=tree_bytes),
        Workload("make", "make -j2, %s" % ("19 C files" if not sizes.make_units else
                                           "%d C files" % (len(sizes.make_units.split()) + 1)),
                 ["make", "-j2", "-s", "-C", "build"] + (["UNITS=" + sizes.make_units] if sizes.make_units else []),
                 prepare=copy_fixture, read_output=run_built_program,
                 max_runs=None if quick else 2, warm_up_contenders=False,
                 notes="output checked by running the program each contender built; "
                       "full run: 2 rounds at most, bare-only warm-up"),
        Workload("python-json", "python3 JSON transform, %d records" % sizes.json_records,
                 [sys.executable, json_script, path("records.json"), "summary.json"],
                 output="summary.json", input_bytes=os.path.getsize(path("records.json")),
                 warm_up_contenders=False, notes="bare-only warm-up"),
        Workload("pipeline", "sh pipeline, 5 processes, %s" % mb(sizes.pipeline_bytes),
                 ["sh", "-c", pipeline], input_bytes=sizes.pipeline_bytes),
        Workload("storm", "syscall storm, %s 1-byte reads" % "{:,}".format(sizes.storm_reads),
                 [storm, str(sizes.storm_reads)],
                 max_runs=None if quick else 1, warm_up_contenders=False,
                 notes="full run: 1 round and a bare-only warm-up (each ptrace contender "
                       "takes 0.5-2 minutes per round here)"),
    ]
