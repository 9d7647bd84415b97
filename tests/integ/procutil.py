"""What /proc says about the server's processes: one place for the tests
that count children, zombies and descriptors."""
import os
from pathlib import Path


def proc_stat(pid):
    """(state, ppid) of a process, or None when it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def children(parent, live_only=False):
    """Pids whose parent is `parent`, sorted; live_only leaves out zombies
    (and dead entries not yet gone from /proc)."""
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            st = proc_stat(e)
            if st and st[1] == parent and not (live_only and st[0] in ("Z", "X")):
                out.append(int(e))
    return sorted(out)


def zombies(parent):
    """Pids of zombie children of `parent`."""
    return [p for p in children(parent) if (proc_stat(p) or ("",))[0] == "Z"]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def gone(pid):
    """The process no longer exists (killed *and* reaped)."""
    return proc_stat(pid) is None


def rss_kib(pid):
    """VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized(binary):
    """The binary is an ASan build: RSS then says nothing of memory reuse
    (its quarantine keeps freed memory)."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except (OSError, TypeError):
        return False
