"""Benchmarks/harness/syscall_sources.py MAGPROV TRACE: where the syscalls of a
`magprov record --syscall-buffer` recording went: buffered, or stopped, and for
the stopped ones of the families the buffer covers, whether the descriptor or flags sent
them to the stopping path by design (pipes, sockets, creating/writing opens, > 128 KiB) or
whether the call came from a call site the preload library cannot interpose (glibc's
internal calls: stdio, opendir/readdir, fclose; the loader before the library's
constructor). Reads `magprov dump TRACE --json`; prints one summary line and the leading
syscalls of each class (docs/ARCHITECTURE.md, "Syscall buffer")."""
import json, subprocess, sys, collections
magprov, trace = sys.argv[1], sys.argv[2]
out = subprocess.run([magprov, "dump", trace, "--json"], capture_output=True, text=True).stdout
COVERED = {"read", "write", "pread64", "pwrite64", "readv", "writev", "lseek", "openat", "newfstatat", "fstat",
           "readlinkat", "close", "dup"}
total = 0
announced = {}
before = collections.Counter()
buffered = collections.Counter(); design = collections.Counter(); internal = collections.Counter(); other = collections.Counter()
for line in out.splitlines():
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("kind") == "exec": announced[e["tid"]] = False
    if e.get("kind") == "taskStart": announced[e["tid"]] = announced.get(e.get("parent"), False)
    if e.get("kind") != "syscall": continue
    total += 1
    name = e["name"]; flags = e.get("flags", [])
    if e["number"] == 0x6d70: announced[e["tid"]] = True
    if not announced.get(e["tid"], False) and "buffered" not in flags and name in COVERED | {"getdents64"}:
        before[name] += 1; continue
    if "buffered" in flags: buffered[name] += 1; continue
    if name not in COVERED and name != "getdents64": other[name] += 1; continue
    objs = e.get("objects", [])
    res = " ".join(o["resolved"] for o in objs)
    a = e["arguments"]
    file_like = objs and all(o["resolved"].startswith("/") and not o["resolved"].startswith("/dev/") for o in objs)
    if name == "getdents64": internal[name] += 1
    elif not file_like: design[name + " (pipe/socket/tty/dev)"] += 1
    elif name == "openat" and a[2] & (3 | 0o100 | 0o1000 | 0o20000000): design["openat (create/truncate/write)"] += 1
    elif name in ("read", "write", "pread64", "pwrite64") and a[2] > 128 * 1024: design[name + " (> 128 KiB)"] += 1
    elif e.get("result", 0) < 0 and name in ("openat",): design["openat (failed, stopped)"] += 1
    else: internal[name] += 1
b = sum(buffered.values()); d = sum(design.values()); i = sum(internal.values()); o = sum(other.values()); l = sum(before.values())
print("%s: %d syscalls; buffered %d (%.0f%%); covered families, stopped: before the library's constructor (loader) %d (%.0f%%), by design %d (%.0f%%), from a call site the preload cannot interpose %d (%.0f%%); other families (mmap, exec, signals, ...) %d (%.0f%%)" % (
    trace, total, b, 100.0*b/total, l, 100.0*l/total, d, 100.0*d/total, i, 100.0*i/total, o, 100.0*o/total))
print("  before the constructor:", dict(before.most_common(8)))
print("  non-interposable:", dict(internal.most_common(8)))
print("  by design:", dict(design.most_common(6)))
print("  other:", dict(other.most_common(8)))
