"""Where sealed entry workers come from: a clean "zygote" process that forks one per run.

Importing torch costs about 2 s, so a fresh interpreter per run would dominate small suites.
Instead each harness process starts one zygote (``python -m bench.sandbox``) that imports torch
and the worker code and nothing else (no problem, no data, no records), and forks a fresh
worker for every run or description (a few ms). No worker ever sees another run's memory.

Confinement, as far as the OS allows without new services:

* the zygote is started with a scrubbed environment (:data:`ENV_KEEP` only), stdin closed, in
  its own session, in a private temporary working folder;
* where the harness runs as root, the zygote (and so every worker) runs as the unprivileged
  user ``nobody``: it cannot write the results store, signal or trace the harness, or read its
  memory. Where that is impossible (not root, or the code is not readable by others) the
  workers run as the harness's user and the record says so (``confinement``);
* the harness marks itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): a same-user process
  cannot ptrace it or read ``/proc/<pid>/mem``;
* each worker, where the kernel has Landlock (Linux >= 5.13; no privilege needed): no file may
  be created, written, truncated, renamed or removed anywhere but its own temporary folder and
  ``/dev/null``; no TCP bind or connect (ABI >= 4); no signal to, or abstract-socket
  connection with, a process outside its sandbox (ABI >= 6). A worker that cannot apply the
  Landlock rules its kernel supports exits before running entry code (fail closed);
* a worker that still runs as root (the harness is root but ``nobody`` cannot run this Python)
  drops every capability, so it can neither override file permissions nor trace others;
* each worker: its own session (killed as a group), no new privileges, core dumps off, a
  16 MiB file-size limit, a process-count limit when unprivileged, SIGKILL when the zygote
  dies; the zygote gets SIGKILL when the harness dies.
"""

from __future__ import annotations

import ctypes
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from typing import Any

ENV_KEEP = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UNPRIVILEGED = "nobody"
FILE_SIZE_LIMIT = 16 << 20  # bytes a worker may write to one file (its log included)
PROCESS_LIMIT = 512  # processes/threads of the unprivileged user (not enforced for root)
LOG_TAIL = 2000  # characters of a dead worker's output kept in its record
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
# Landlock filesystem rights that change the file system (bits of handled_access_fs), by ABI.
_FS_WRITE_RIGHTS = {1: (1 << 1) | (1 << 4) | (1 << 5) | sum(1 << b for b in range(6, 13)),
                    2: 1 << 13, 3: 1 << 14}
_NET_TCP = 0b11  # bind and connect (ABI >= 4)
_SCOPES = 0b11  # abstract unix sockets and signals (ABI >= 6)
ROOT = pathlib.Path(__file__).resolve().parent.parent  # the folder holding bench/, problems/


class SandboxError(RuntimeError):
    """The zygote could not be started or stopped answering."""


def _prctl(option: int, value: int) -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MALLOC_KEEP = 32 << 20  # bytes: the largest block glibc may serve from its heap


def tune_malloc() -> None:
    """Let glibc reuse freed blocks of up to 32 MiB instead of returning them to the OS: a
    step's vectors (gradients, copies) are then not fresh zero pages every time. Measured at
    d = 1e5 it removes most of a step's page faults in both processes (docs/methodology.md)."""
    try:
        libc = _libc()
        libc.mallopt(M_MMAP_THRESHOLD, MALLOC_KEEP)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * MALLOC_KEEP)
    except (OSError, AttributeError):
        pass


def mark_non_dumpable() -> bool:
    """Forbid ptrace and /proc/<pid>/mem access to this (harness) process for non-root users."""
    return _prctl(PR_SET_DUMPABLE, 0)


def _readable_by_others(path: pathlib.Path) -> bool:
    for p in [path, *path.parents]:
        try:
            mode = p.stat().st_mode
        except OSError:
            return False
        need = 0o005 if p.is_dir() else 0o004
        if mode & need != need:
            return False
    return True


def confinement_plan() -> dict[str, Any]:
    """Which confinement this process can give its workers (recorded in every sealed record)."""
    plan: dict[str, Any] = {"process": "separate", "environment": "scrubbed", "user": None,
                            "non_dumpable_harness": True, "landlock_abi": landlock_abi(),
                            "capabilities": "dropped" if os.geteuid() == 0 else "none held"}
    if os.geteuid() != 0:
        plan["user"] = "same as harness (not root: cannot drop privileges)"
        return plan
    import pwd

    try:
        pw = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        plan["user"] = f"same as harness (no user {UNPRIVILEGED!r})"
        return plan
    site = pathlib.Path(ctypes.__file__).parent
    if not (_readable_by_others(ROOT / "bench") and _readable_by_others(site)):
        plan["user"] = f"same as harness ({ROOT} is not readable by {UNPRIVILEGED})"
        return plan
    plan["user"] = UNPRIVILEGED
    plan["uid"], plan["gid"] = pw.pw_uid, pw.pw_gid
    return plan


class Sandbox:
    """The harness side: starts the zygote lazily and asks it for workers."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self.plan = confinement_plan()
        self.folder: pathlib.Path | None = None

    # -- zygote ----------------------------------------------------------------------------
    def _start(self) -> None:
        mark_non_dumpable()
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="saddlebench-sandbox-"))
        for sub in ("work", "entries"):
            (self.folder / sub).mkdir()
        os.chmod(self.folder, 0o755)
        os.chmod(self.folder / "entries", 0o755)
        uid = self.plan.get("uid")
        if uid is not None:
            os.chown(self.folder / "work", uid, self.plan["gid"])
        env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
        env.update(HOME=str(self.folder / "work"), TMPDIR=str(self.folder / "work"),
                   PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
        env.setdefault("PATH", "/usr/bin:/bin")
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        kwargs: dict[str, Any] = {}
        if uid is not None:
            kwargs.update(user=uid, group=self.plan["gid"], extra_groups=[])
        log = open(self.folder / "zygote.log", "wb")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "bench.sandbox", str(child.fileno())],
                pass_fds=[child.fileno()], env=env, cwd=self.folder / "work",
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, **kwargs)
        finally:
            log.close()
            child.close()
        self._sock = parent

    def entry_folder(self) -> pathlib.Path:
        """A folder the workers can read, for copies of entry files given by path."""
        if self._proc is None:
            self._start()
        return self.folder / "entries"

    def spawn(self, fds: list[int]) -> tuple[int, pathlib.Path]:
        """A fresh worker serving the channel ``fds[0]`` (and slots ``fds[1]``): (pid, its log)."""
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                self.close()
            self._start()
        try:
            socket.send_fds(self._sock, [b"spawn"], fds)
            self._sock.settimeout(120)  # the first answer waits for the zygote's imports
            answer = self._sock.recv(4096)
        except (OSError, socket.timeout) as exc:
            raise SandboxError(f"the worker zygote does not answer ({exc}); its log: "
                               f"{self.log_tail(self.folder / 'zygote.log')}") from None
        finally:
            if self._sock is not None:
                self._sock.settimeout(None)
        if not answer:
            raise SandboxError(f"the worker zygote exited; its log: "
                               f"{self.log_tail(self.folder / 'zygote.log')}")
        answer = json.loads(answer)
        self.plan["landlock_abi"] = answer.get("landlock_abi", 0)
        pid = answer["pid"]
        return pid, self.folder / "work" / f"worker-{pid}.log"

    @staticmethod
    def log_tail(path: pathlib.Path) -> str:
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - LOG_TAIL))
                return fh.read().decode(errors="replace").strip()
        except OSError:
            return ""

    @staticmethod
    def kill(pid: int) -> None:
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


_SANDBOX: Sandbox | None = None


def sandbox() -> Sandbox:
    """This process's sandbox (one zygote per harness process)."""
    global _SANDBOX
    if _SANDBOX is None:
        _SANDBOX = Sandbox()
    return _SANDBOX


# ------------------------------------------------------------------------------- zygote side
def _limit_worker() -> None:
    import resource

    for limit, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    if os.geteuid() != 0:
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
        except (ValueError, OSError):
            pass


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: not available)."""
    try:
        abi = _libc().syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)
    except (OSError, AttributeError):
        return 0
    return max(0, int(abi))


def _landlock(abi: int, writable: list[str]) -> None:
    """Forbid this process (and its children) to change files outside ``writable``, to use
    TCP and to signal processes outside its domain, as far as ``abi`` allows."""
    import struct

    libc = _libc()
    fs = sum(bits for version, bits in _FS_WRITE_RIGHTS.items() if version <= abi)
    net = _NET_TCP if abi >= 4 else 0
    scoped = _SCOPES if abi >= 6 else 0
    attr = struct.pack("<QQQ", fs, net, scoped)[: 24 if abi >= 6 else 16 if abi >= 4 else 8]
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, buf, len(attr), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in writable:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rights = fs if os.path.isdir(path) else (1 << 1) | (1 << 14 if abi >= 3 else 0)
                rule = ctypes.create_string_buffer(struct.pack("<Qi", rights, fd), 12)
                if libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, rule, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
            finally:
                os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


def drop_capabilities() -> bool:
    """Empty this process's capability sets (a worker still running as root then cannot
    override file permissions or trace processes it does not own)."""
    libc = _libc()
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words: all zero
    try:
        return libc.capset(header, data) == 0
    except AttributeError:
        return False


def _zygote(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    tune_malloc()
    import torch  # noqa: F401  (the point of the zygote: imported once, shared by every fork)

    import bench.entry_worker
    import bench.entries  # noqa: F401

    # torch.optim.Optimizer.__init__ imports torch._dynamo on its first call (about 2 s): pay it
    # here once, so a worker builds its optimizer in milliseconds (it was 2.2 s of every run)
    torch.optim.SGD([torch.zeros(1)], lr=0.1)

    abi = landlock_abi()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped automatically
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 64, 4)
        except OSError:
            return
        if not msg:
            return
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                sock.close()
                os.setsid()
                _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _limit_worker()
                log = os.open(f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.close(log)
                tmp = os.path.abspath(f"tmp-{os.getpid()}")
                os.mkdir(tmp, 0o700)
                os.environ["TMPDIR"] = os.environ["HOME"] = tmp
                if abi:
                    _landlock(abi, [tmp, os.devnull])
                if os.geteuid() == 0 and not drop_capabilities():
                    raise OSError("could not drop the capabilities of a root worker")
                bench.entry_worker.main(fds[0], fds[1] if len(fds) > 1 else None)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        for f in fds:
            os.close(f)
        sock.send(json.dumps({"pid": pid, "landlock_abi": abi}).encode())


if __name__ == "__main__":
    _zygote(int(sys.argv[1]))
