"""The tools measured against the bare command, and how each one is found or installed.

Every contender wraps the workload's argv.  A contender that cannot run here stays in the
tables with the reason (rr without a PMU, `magprov replay` before it exists): dropping a
column would hide exactly what a reader needs to know.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

RECORD, REPLAY = "record", "replay"
# The file, in a magprov-record run's folder, that `magprov record --json` writes.
RECORD_SUMMARY = "record-summary.json"

# Running reprozip's own entry point with Python's sys.stdout pointed at stderr: reprozip
# prints "Configuration file written in ..." to stdout, which would otherwise mix with the
# traced command's stdout (the command itself inherits the real fd 1, untouched).  Same
# interpreter, same code path and cost as the `reprozip` script.
_REPROZIP_MAIN = ("import sys; sys.stdout = sys.stderr; sys.argv[0] = 'reprozip'; "
                  "from reprozip.main import main; main()")


@dataclass
class Contender:
    """A way of running a workload.

    command(workload_argv, run_dir, workload_name) -> argv.  `artifact` names what the tool
    writes in the run directory (trace, log, database), whose size the harness records.
    `compares_output` is False for replays: they re-execute a recording and check
    themselves against it, so only their exit status is checked.
    """
    key: str
    label: str
    section: str
    command: Optional[Callable[[List[str], str, str], List[str]]] = None
    available: bool = True
    reason: str = ""          # why unavailable, one line, shown under the table
    cell: str = ""            # short text for the table cells when unavailable
    artifact: Optional[str] = None
    compares_output: bool = True
    version: str = ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _version(argv: List[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return _first_line(r.stdout) or _first_line(r.stderr)
    except (OSError, subprocess.TimeoutExpired):
        return ""


def has_hardware_counters() -> bool:
    """A PMU shows up as the `cpu` event source; VMs without one list only software ones."""
    return os.path.isdir("/sys/bus/event_source/devices/cpu")


class Installer:
    """Installs missing peers with the ordinary clients, once, and says what it did.

    BENCH_NO_INSTALL=1 turns installing off (the contender is then reported unavailable).
    """

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.apt_updated = False
        self.allowed = os.environ.get("BENCH_NO_INSTALL", "") in ("", "0")

    def apt(self, package: str) -> Optional[str]:
        """apt-get install -y package (after one apt-get update); None or the failure reason."""
        if not self.allowed:
            return "not installed (BENCH_NO_INSTALL set)"
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            return "not installed, and apt-get needs root"
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if not self.apt_updated:
            self.log("installing: apt-get update")
            r = subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                return "apt-get update failed: " + _first_line(r.stderr)
            self.apt_updated = True
        self.log("installing: apt-get install -y " + package)
        r = subprocess.run(["apt-get", "install", "-y", package], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            return "apt-get install %s failed: %s" % (package, _first_line(r.stderr.splitlines()[-1] if r.stderr else ""))
        return None

    def pip(self, package: str) -> Optional[str]:
        if not self.allowed:
            return "not installed (BENCH_NO_INSTALL set)"
        self.log("installing: %s -m pip install %s" % (os.path.basename(sys.executable), package))
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", package],
                           capture_output=True, text=True)
        if r.returncode != 0:
            lines = [l for l in (r.stderr or r.stdout).splitlines() if l.strip()]
            return "pip install %s failed: %s" % (package, lines[-1].strip() if lines else "exit %d" % r.returncode)
        return None


def _tool(name: str, package: str, installer: Installer) -> Optional[str]:
    """Path of a command-line tool, installing its Debian package if missing."""
    path = shutil.which(name)
    if path is None and installer.apt(package) is None:
        path = shutil.which(name)
    return path


def _magprov_help(magprov: str, *args: str) -> str:
    """`magprov <args> --help` output when it is that subcommand's own help, else ''.

    ArgumentParser prints the top-level help, and exits 0, for an unknown subcommand, so
    the exit status alone cannot tell whether `replay` exists: the usage line does.
    """
    try:
        r = subprocess.run([magprov, *args, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = r.stdout + r.stderr
    usage = "USAGE: magprov " + " ".join(args)
    return text if r.returncode == 0 and usage in text else ""


def _replay_probe(magprov: str, probe_argv: List[str], scratch: str) -> str:
    """'' if magprov replays a tiny recorded C program, else the first line of why not.

    The replay subcommand can exist before the interpreter runs real programs; then every
    workload would fail the same way.  This probe turns that state into one "not working
    yet" reason; once it passes, a replay failure on any workload is a real failure.
    """
    trace = os.path.join(scratch, "replay-probe.trace")
    shutil.rmtree(trace, ignore_errors=True)
    try:
        r = subprocess.run([magprov, "record", "-o", trace, "--", *probe_argv],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return "could not record %s: %s" % (" ".join(probe_argv), _first_line(r.stderr))
        r = subprocess.run([magprov, "replay", trace], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        return "timed out: %s" % " ".join(e.cmd)
    finally:
        shutil.rmtree(trace, ignore_errors=True)
    if r.returncode == 0:
        return ""
    why = _first_line(r.stdout) or _first_line(r.stderr) or "exit status %d" % r.returncode
    if "divergence" in why:
        why = why[why.index("divergence"):]
    why = " ".join(why.split())
    return "replaying a recorded `%s` fails: %s" % (
        " ".join([os.path.basename(probe_argv[0])] + probe_argv[1:]), why[:200])


def discover(magprov: str, sections: List[str], installer: Installer, scratch: str,
             replay_probe: List[str]) -> List[Contender]:
    """All contenders of the chosen sections, available or not, in table order.

    replay_probe: a tiny command that magprov replay must replay before it is measured.
    """
    result: List[Contender] = []
    if RECORD in sections:
        result.append(Contender(
            "magprov-record", "magprov record", RECORD,
            # The --json summary holds the recorder's SHA-256 work (hashedBytes, hashSeconds).
            command=lambda argv, run, name: [magprov, "record", "-o", os.path.join(run, "trace"),
                                             "--json", os.path.join(run, RECORD_SUMMARY), "--", *argv],
            artifact="trace", version=_version([magprov, "--version"])))
        # The same recorder with the in-process syscall buffer, in the same rounds: data calls
        # on open seekable descriptors are logged by a preload library instead of stopping
        # (the trace says it trusts that log). Unavailable when this magprov lacks the flag.
        record_help = _magprov_help(magprov, "record")
        if "--syscall-buffer" in record_help:
            result.append(Contender(
                "magprov-record-buffered", "magprov record --syscall-buffer", RECORD,
                command=lambda argv, run, name: [magprov, "record", "--syscall-buffer", "-o", os.path.join(run, "trace"),
                                                 "--json", os.path.join(run, RECORD_SUMMARY), "--", *argv],
                artifact="trace", version=_version([magprov, "--version"])))
        else:
            result.append(Contender("magprov-record-buffered", "magprov record --syscall-buffer", RECORD,
                                    available=False, cell="not available",
                                    reason="magprov record --syscall-buffer: this magprov has no such option"))

        strace = _tool("strace", "strace", installer)
        if strace:
            result.append(Contender(
                "strace", "strace -f", RECORD,
                command=lambda argv, run, name: [strace, "-f", "-o", os.path.join(run, "strace.log"), *argv],
                artifact="strace.log", version=_version([strace, "-V"])))
        else:
            result.append(Contender("strace", "strace -f", RECORD, available=False,
                                    reason="strace: not installed and could not be installed",
                                    cell="unavailable"))

        reason = None
        probe = [sys.executable, "-c", "import reprozip.main"]
        if subprocess.run(probe, capture_output=True).returncode != 0:
            reason = installer.pip("reprozip")
            if reason is None and subprocess.run(probe, capture_output=True).returncode != 0:
                reason = "pip installed reprozip but it does not import"
        if reason is None:
            result.append(Contender(
                "reprozip", "ReproZip", RECORD,
                # --dont-identify-packages: skip the dpkg look-ups that only serve packing.
                # -d after `trace`: the subcommand's own default overrides a global -d.
                command=lambda argv, run, name: [sys.executable, "-c", _REPROZIP_MAIN, "trace",
                                                 "-d", os.path.join(run, "reprozip"),
                                                 "--dont-identify-packages", *argv],
                artifact="reprozip",
                version="reprozip " + _version([sys.executable, "-c", "import reprozip; print(reprozip.__version__)"])))
        else:
            result.append(Contender("reprozip", "ReproZip", RECORD, available=False,
                                    reason="ReproZip: unavailable (%s)" % reason, cell="unavailable"))

        result.append(_rr(installer, scratch))

    if REPLAY in sections:
        replay_help = _magprov_help(magprov, "replay")
        replay_broken = _replay_probe(magprov, replay_probe, scratch) if replay_help else ""
        if replay_help and not replay_broken:
            result.append(Contender(
                "magprov-replay", "magprov replay", REPLAY,
                command=lambda argv, run, name: [magprov, "replay", _trace_for(scratch, name)],
                compares_output=False))
        elif replay_help:
            result.append(Contender(
                "magprov-replay", "magprov replay", REPLAY, available=False, cell="not working yet",
                reason="magprov replay: not working yet (%s)" % replay_broken))
        else:
            result.append(Contender(
                "magprov-replay", "magprov replay", REPLAY, available=False, cell="not available yet",
                reason="magprov replay: not available yet (this magprov has no replay subcommand)"))
        if replay_help and not replay_broken and "--taint" in replay_help:
            result.append(Contender(
                "magprov-replay-taint", "magprov replay --taint", REPLAY,
                command=lambda argv, run, name: [magprov, "replay", "--taint", _trace_for(scratch, name)],
                compares_output=False))
        else:
            result.append(Contender(
                "magprov-replay-taint", "magprov replay --taint", REPLAY, available=False,
                cell="not available yet",
                reason="magprov replay --taint: not available yet (%s)" % (
                    "no replay subcommand" if not replay_help else
                    "replay has no --taint option" if "--taint" not in replay_help else
                    "plain replay does not work yet")))

        valgrind = _tool("valgrind", "valgrind", installer)
        for tool, label in (("none", "valgrind none"), ("memcheck", "valgrind memcheck")):
            if valgrind:
                result.append(Contender(
                    "valgrind-" + tool, label, REPLAY,
                    # Follow children like the recorders do; logs to files keep stderr clean.
                    command=lambda argv, run, name, tool=tool: [
                        valgrind, "--tool=" + tool, "--trace-children=yes",
                        "--log-file=" + os.path.join(run, "valgrind.%p.log"), *argv],
                    version=_version([valgrind, "--version"])))
            else:
                result.append(Contender("valgrind-" + tool, label, REPLAY, available=False,
                                        reason="valgrind: not installed and could not be installed",
                                        cell="unavailable"))
    return result


def _rr(installer: Installer, scratch: str) -> Contender:
    """rr if it records here.  It needs a hardware PMU, which these VMs do not have."""
    no_pmu = "rr: unavailable (no hardware performance counters on this VM)"
    rr = shutil.which("rr")
    if rr is None:
        if not has_hardware_counters():
            # Installing rr only to watch it refuse would cost CI a minute for nothing.
            return Contender("rr", "rr record", RECORD, available=False, reason=no_pmu,
                             cell="unavailable: no PMU")
        failure = installer.apt("rr")
        rr = shutil.which("rr")
        if rr is None:
            return Contender("rr", "rr record", RECORD, available=False,
                             reason="rr: unavailable (%s)" % (failure or "not installed"), cell="unavailable")
    probe_dir = tempfile.mkdtemp(prefix="rr-probe-", dir=scratch)
    try:
        r = subprocess.run([rr, "record", "-o", os.path.join(probe_dir, "t"), "true"],
                           capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    if r.returncode != 0:
        if "perf_event_open" in r.stderr or not has_hardware_counters():
            return Contender("rr", "rr record", RECORD, available=False, reason=no_pmu,
                             cell="unavailable: no PMU")
        return Contender("rr", "rr record", RECORD, available=False, cell="unavailable",
                         reason="rr: unavailable (rr record refused: %s)" % _first_line(r.stderr)[:120])
    return Contender("rr", "rr record", RECORD,
                     command=lambda argv, run, name: [rr, "record", "-o", os.path.join(run, "rr-trace"), *argv],
                     artifact="rr-trace", version=_version([rr, "--version"]))


def _trace_for(scratch: str, workload: str) -> str:
    """Where the untimed recording that the replay contenders replay is kept."""
    return os.path.join(scratch, "replay-traces", workload)


def replay_trace_path(scratch: str, workload: str) -> str:
    return _trace_for(scratch, workload)


def bare() -> Contender:
    return Contender("bare", "bare", "baseline", command=lambda argv, run, name: list(argv))


def by_key(contenders: List[Contender]) -> Dict[str, Contender]:
    return {c.key: c for c in contenders}
