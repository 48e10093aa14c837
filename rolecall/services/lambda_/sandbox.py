"""Where a function runs: a bubblewrap (bwrap) sandbox that holds nothing but the function, its role's
credentials and a way back to rolecall's endpoint.

What the function sees (a fresh root, read-only but for /tmp):
  /usr and the /bin, /lib... links   the system's programs and libraries (read-only)
  the Python installation            sys.base_prefix, read-only, its own site-packages hidden under an
                                     empty read-only tmpfs (the interpreter, not a virtualenv)
  /var/runtime                       bootstrap.py, and boto3 with the packages it needs (botocore, s3transfer,
                                     jmespath, dateutil, six, urllib3), each bound read-only from where it is
                                     installed -- as Lambda's Python runtimes carry boto3. rolecall itself and
                                     the rest of the server's environment are not there.
  /var/task                          the function's unpacked code, read-only (LAMBDA_TASK_ROOT)
  /tmp                               a tmpfs of EphemeralStorage.Size MB, new for each invocation (its pages
                                     count toward the memory limit, unlike Lambda's disk-backed /tmp)
  /etc/ssl, /etc/ld.so.*             certificates and the dynamic linker's cache
  /proc, /dev                        of the sandbox's own PID namespace; a minimal /dev
No data dir, no other function's code, no /home, no /sys; of a home holding the Python installation
(pyenv's ~/.pyenv), only the path down to it.

Namespaces: PID (the sandbox's init is bwrap; when the function's process exits, the kernel kills every
process left in it), network (only a loopback interface), mount, IPC, UTS, cgroup. The way back to
rolecall: the server listens on a Unix socket bound into the sandbox (EndpointRelay), and bootstrap.py
listens on 127.0.0.1:PORT inside the sandbox's network namespace and relays each connection to it, so
AWS_ENDPOINT_URL=http://127.0.0.1:PORT reaches rolecall and nothing else is reachable.

Users. A server running as root starts bwrap as root (so it can bind paths only root may traverse, such as
a Python under /root) and bwrap runs setpriv, which drops to SANDBOX_UID:SANDBOX_GID with no supplementary
groups, no capabilities (bounding set included) and no_new_privs before the runtime starts: the function is
a real unprivileged user on the host, not root's uid mapped into a user namespace. SANDBOX_UID is a
dedicated id, not nobody (65534), so no other process on the machine shares it. (Like any unprivileged
user, it may still create user namespaces of its own where the kernel allows them; mounts it inherits
stay read-only there.) A server running as another user runs bwrap in a
user namespace (unprivileged user namespaces must be allowed), mapped to uid 993 inside, and further user
namespaces are disabled; the function's processes then are that user's on the host, but see none of its
files or processes.

Limits. Memory: a cgroup v1 memory controller limit of MemorySize MB (memsw too where swap is
accounted), for the function and every process it starts together; and a pids controller limit of MAX_PROCESSES. Both need root and cgroup v1 (which this machine has); elsewhere the
runtime sets RLIMIT_DATA to MemorySize on each process, a weaker, per-process bound (not RLIMIT_AS: Python
reserves far more address space than it uses, for thread stacks and allocator arenas, so an address-space
limit of MemorySize would refuse functions that fit), and RLIMIT_NPROC only when the function has a uid
of its own (root), since it counts every process of that uid. Time: the invocation's Timeout (rolecall.services.lambda_.runtime).
When the invocation ends, the sandbox's init is killed, which ends its PID namespace, and every process
still in the invocation's cgroup is killed before the cgroup is removed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rolecall.services.lambda_.runtime import Invocation, Launch, lambda_environment

log = logging.getLogger("rolecall.lambda")

ISOLATION_SANDBOX = "sandbox"
ISOLATION_NONE = "none"
ISOLATION_MODES = (ISOLATION_SANDBOX, ISOLATION_NONE)
ISOLATION_ENV = "ROLECALL_LAMBDA_ISOLATION"

SANDBOX_UID = SANDBOX_GID = 65533  # in Debian's reserved range 65000-65533: no package or account uses it
INSIDE_UID, INSIDE_GID = 993, 990  # what the function sees when bwrap maps a non-root server's uid
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
RELAY_SOCKET = f"{RUNTIME_DIR}/rolecall-endpoint.sock"
MAX_PROCESSES = 1024  # Lambda's limit on processes and threads in an execution environment
RUNTIME_DISTRIBUTION = "boto3"  # with its requirements: what a Lambda Python runtime carries
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("/etc/ssl", "/etc/ca-certificates", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
CGROUP_ROOT = Path("/sys/fs/cgroup")
OPT_IN = (
    f"start `rolecall serve --lambda-isolation=none` (or set {ISOLATION_ENV}=none) to run functions "
    "without isolation, where a function can read the server's data directory and keys"
)


@dataclass(frozen=True)
class Support:
    """Whether functions can be sandboxed here, and how."""

    available: bool
    reason: str = ""  # why not
    as_root: bool = False  # bwrap runs as root and setpriv drops to SANDBOX_UID
    cgroups: tuple[Path, Path] | None = None  # where invocation cgroups can go: (memory, pids)
    bwrap: str = "bwrap"
    setpriv: str = "setpriv"


def interpreter() -> Path:
    """The Python the runtime runs: the base installation's, not a virtualenv's (whose site-packages hold
    rolecall and whatever else the server needs)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


def python_prefix() -> Path:
    return Path(os.path.realpath(sys.base_prefix))


def hidden_site_packages() -> list[str]:
    """The base installation's own site-packages: not part of the runtime."""
    scheme = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    paths = {sysconfig.get_path(name, vars=scheme) for name in ("purelib", "platlib")}
    prefix = str(python_prefix())
    return sorted(p for p in paths if p and os.path.isdir(p) and os.path.realpath(p).startswith(prefix + "/"))


def runtime_packages(distribution: str = RUNTIME_DISTRIBUTION) -> dict[str, Path]:
    """The top-level modules and .dist-info directories of `distribution` and of everything it requires,
    by name, with where each is installed. Nothing if it is not installed."""
    found: dict[str, Path] = {}
    seen: set[str] = set()
    pending = [distribution]
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for entry in dist.files or []:
            top = entry.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            path = Path(str(dist.locate_file(top)))
            if path.exists():
                found.setdefault(top, path)
        for requirement in dist.requires or []:
            if "extra ==" in requirement:  # optional extras (boto3[crt]) are not part of the runtime
                continue
            pending.append(_requirement_name(requirement))
    return found


def _requirement_name(requirement: str) -> str:
    for i, char in enumerate(requirement):
        if not (char.isalnum() or char in "-_."):
            return requirement[:i]
    return requirement


def _cgroup_bases() -> tuple[Path, Path] | None:
    """This process's own cgroup v1 memory and pids directories, if it may create cgroups in them."""
    own: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path
    except (OSError, ValueError):
        return None
    bases = []
    for controller in ("memory", "pids"):
        if controller not in own or not (CGROUP_ROOT / controller / "cgroup.procs").exists():
            return None
        base = CGROUP_ROOT / controller / own[controller].lstrip("/")
        trial = base / f"rolecall-probe-{uuid.uuid4().hex}"
        try:
            trial.mkdir()
            trial.rmdir()
        except OSError:
            return None
        bases.append(base)
    return bases[0], bases[1]


@functools.cache
def probe() -> Support:
    """Can this machine sandbox functions? Found once per process by running an empty sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Support(False, "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)")
    as_root = os.geteuid() == 0
    setpriv = shutil.which("setpriv") or ""
    if as_root and not setpriv.startswith("/usr/"):  # it runs inside the sandbox, where only /usr is
        return Support(False, "setpriv (util-linux) is not installed in /usr")
    found = Support(True, as_root=as_root, bwrap=bwrap, setpriv=setpriv)
    trial = Sandbox(found, relay_socket=None)
    argv = trial.argv(task_root=None, tmp_mb=1) + [str(interpreter()), "-I", "-c", "pass"]
    try:
        done = subprocess.run(argv, env={}, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Support(False, f"bwrap could not be run: {exc}")
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        return Support(False, f"bwrap cannot create a sandbox here: {detail}")
    return Support(
        True, as_root=as_root, cgroups=_cgroup_bases() if as_root else None, bwrap=bwrap, setpriv=setpriv
    )


def unavailable_message(reason: str) -> str:
    return f"rolecall cannot run Lambda functions in a sandbox on this machine: {reason}. To run them anyway, {OPT_IN}."


class EndpointRelay:
    """A Unix socket whose connections are relayed to rolecall's TCP endpoint: the one address a sandboxed
    function can reach. It grants nothing: every request through it is signed and authorized as usual."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.dir = tempfile.mkdtemp(prefix="rolecall-lambda-relay-")  # 0700: only root/the server enters
        self.path = os.path.join(self.dir, "endpoint.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        os.chmod(self.path, 0o666)  # connect() needs write permission; the directory keeps others out
        self._listener.listen(128)
        self._closed = False
        threading.Thread(target=self._accept, name="rolecall-lambda-relay", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=30)
            upstream.settimeout(None)
        except OSError:
            conn.close()
            return
        other = threading.Thread(target=_pump, args=(upstream, conn), daemon=True)
        other.start()
        _pump(conn, upstream)
        other.join()
        conn.close()
        upstream.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@dataclass
class Cgroups:
    """One invocation's memory and pids cgroups (v1)."""

    memory: Path
    pids: Path

    @classmethod
    def create(cls, parents: tuple[Path, Path], memory_mb: int) -> Cgroups:
        name = uuid.uuid4().hex
        groups = cls(parents[0] / name, parents[1] / name)
        groups.memory.mkdir()
        groups.pids.mkdir()
        limit = str(memory_mb * 1024 * 1024)
        (groups.memory / "memory.limit_in_bytes").write_text(limit)
        swap = groups.memory / "memory.memsw.limit_in_bytes"
        if swap.exists():  # swap accounted: the limit covers memory and swap together
            swap.write_text(limit)
        (groups.pids / "pids.max").write_text(str(MAX_PROCESSES))
        return groups

    def procs(self) -> list[Path]:
        return [self.memory / "cgroup.procs", self.pids / "cgroup.procs"]

    def peak_memory_kb(self) -> int:
        try:
            return int((self.memory / "memory.max_usage_in_bytes").read_text()) // 1024
        except (OSError, ValueError):
            return 0

    def out_of_memory(self) -> bool:
        """Did the kernel kill a process of the invocation for exceeding its memory?"""
        try:
            for line in (self.memory / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
        except (OSError, ValueError):
            pass
        return False

    def kill_all(self, patience: float = 5.0) -> None:
        """SIGKILL whatever is left in the pids cgroup (every process of the invocation), until it is empty."""
        deadline = time.monotonic() + patience
        while True:
            try:
                pids = [int(p) for p in (self.pids / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                return
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                log.warning("processes of cgroup %s outlived the invocation: %s", self.pids, pids)
                return
            time.sleep(0.005)

    def remove(self) -> None:
        for group in (self.pids, self.memory):
            for _ in range(200):  # an exiting process may hold the cgroup for a moment
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)


def _parents(destinations: list[str]) -> list[str]:
    """Every directory above the destinations, shallowest first, once each."""
    found: list[str] = []
    for dest in destinations:
        for parent in reversed(Path(dest).parents):
            if str(parent) != "/" and str(parent) not in found:
                found.append(str(parent))
    return sorted(found, key=lambda p: p.count("/"))


# Joins the invocation's cgroups before bwrap starts, so that every process of the sandbox is counted.
_JOIN_CGROUPS = 'for f do shift; [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; done; exec "$@"'


@dataclass
class Sandbox:
    """Builds the command that runs one invocation in a sandbox."""

    support: Support
    relay_socket: str | None
    packages: dict[str, Path] = field(default_factory=runtime_packages)
    cgroup_parents: tuple[Path, Path] | None = None  # this sandbox's: its invocations' cgroups go in them

    def __post_init__(self) -> None:
        if self.support.cgroups is not None and self.relay_socket is not None:
            name = f"rolecall-lambda-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            memory, pids = (base / name for base in self.support.cgroups)
            memory.mkdir()
            pids.mkdir()
            self.cgroup_parents = (memory, pids)

    def close(self) -> None:
        for parent in self.cgroup_parents or ():
            with contextlib.suppress(OSError):
                parent.rmdir()

    def argv(self, task_root: Path | None, tmp_mb: int) -> list[str]:
        """bwrap and its options, up to the command run inside (which follows)."""
        args = [self.support.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "localhost"]
        if not self.support.as_root:
            args += ["--unshare-user", "--disable-userns", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_GID)]
        binds: list[tuple[str, str]] = [("/usr", "/usr")]
        links: list[tuple[str, str]] = []
        for link in SYSTEM_LINKS:
            if os.path.islink(link):
                links.append((os.readlink(link), link))
            elif os.path.isdir(link):
                binds.append((link, link))
        binds += [(path, path) for path in ETC if os.path.exists(path)]
        prefix = str(python_prefix())
        if prefix != "/usr" and not prefix.startswith("/usr/"):
            binds.append((prefix, prefix))
        binds.append((str(Path(__file__).with_name("bootstrap.py")), f"{RUNTIME_DIR}/bootstrap.py"))
        binds += [(str(source), f"{RUNTIME_DIR}/{name}") for name, source in sorted(self.packages.items())]
        if self.relay_socket is not None:
            binds.append((self.relay_socket, RELAY_SOCKET))
        if task_root is not None:
            binds.append((str(task_root), TASK_ROOT))
        # bwrap would make missing parents of a destination mode 0700, closed to the sandbox's user.
        for parent in _parents([dest for _, dest in binds] + [TASK_ROOT]):
            args += ["--perms", "0755", "--dir", parent]
        for target, link in links:
            args += ["--symlink", target, link]
        for source, dest in binds:
            args += ["--ro-bind", source, dest]
        for hidden in hidden_site_packages():
            args += ["--perms", "0555", "--size", "4096", "--tmpfs", hidden, "--remount-ro", hidden]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", str(tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        if task_root is not None:
            args += ["--chdir", TASK_ROOT]
        args += ["--remount-ro", "/"]
        if self.support.as_root:
            # bwrap keeps only what setpriv needs to become the sandbox's user; setpriv then drops it all.
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP", "--"]
            args += [
                self.support.setpriv,
                f"--reuid={SANDBOX_UID}",
                f"--regid={SANDBOX_GID}",
                "--clear-groups",
            ]
            args += ["--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
        args += ["--"]
        return args

    def command(
        self, task_root: Path, port: int, memory_mb: int, tmp_mb: int, cgroups: Cgroups | None
    ) -> list[str]:
        """The whole command of one invocation."""
        runtime = [str(interpreter()), "-I", "-S", f"{RUNTIME_DIR}/bootstrap.py", "--environment-from-stdin"]
        runtime += ["--relay", RELAY_SOCKET, str(port)]
        if cgroups is None:  # no cgroup: the weaker per-process limits
            runtime += ["--limit-data", str(memory_mb * 1024 * 1024)]
            if self.support.as_root:  # counted per uid: only meaningful for the sandbox's own uid
                runtime += ["--limit-procs", str(MAX_PROCESSES)]
        argv = self.argv(task_root, tmp_mb) + runtime
        if cgroups is not None:
            argv = ["/bin/sh", "-c", _JOIN_CGROUPS, "sh", *map(str, cgroups.procs()), "--", *argv]
        return argv

    def python_bin(self) -> str:
        return str(interpreter().parent)


class SandboxLaunch(Launch):
    """One invocation in the sandbox: its cgroups, its command, its end."""

    def __init__(self, inv: Invocation, sandbox: Sandbox, port: int) -> None:
        super().__init__(inv)
        self.sandbox = sandbox
        self.port = port
        parents = sandbox.cgroup_parents
        self.cgroups = Cgroups.create(parents, inv.memory_size) if parents is not None else None

    def command(self) -> list[str]:
        return self.sandbox.command(
            self.inv.task_root, self.port, self.inv.memory_size, self.inv.ephemeral_mb, self.cgroups
        )

    def environment(self) -> dict[str, str]:
        env = lambda_environment(
            self.inv,
            task_root=TASK_ROOT,
            runtime_dir=RUNTIME_DIR,
            python_dir=self.sandbox.python_bin(),
            endpoint_url=f"http://127.0.0.1:{self.port}",
        )
        return {"PYTHONPATH": RUNTIME_DIR, **env}  # boto3 and its requirements, as in Lambda

    def process_environment(self) -> dict[str, str]:
        # What sh, bwrap (root, for a root server) and setpriv run with: nothing of the function's. Its
        # variables (LD_PRELOAD, say) would act on them; its credentials would be readable in their
        # /proc/PID/environ. The runtime gets its environment on stdin (bootstrap.py).
        return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}

    def preamble(self) -> bytes:
        return json.dumps(self.environment()).encode("utf-8") + b"\n"

    def cwd(self) -> str | None:
        return None  # bwrap's --chdir

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        # bwrap and the sandbox's init are in the launched process group; the init's death ends the PID
        # namespace, and with it every process the function started. The cgroup makes sure of it.
        super().kill(proc)
        if self.cgroups is not None:
            self.cgroups.kill_all()

    def release(self) -> None:
        if self.cgroups is not None:
            self.cgroups.kill_all()
            self.cgroups.remove()

    def peak_memory_kb(self, proc: subprocess.Popen[bytes]) -> int:
        return self.cgroups.peak_memory_kb() if self.cgroups is not None else 0

    def out_of_memory(self) -> bool:
        return self.cgroups is not None and self.cgroups.out_of_memory()

    def exit_signal(self, code: int) -> int | None:
        # bwrap exits with 128+N when the runtime was killed by signal N.
        if code < 0:
            return -code
        return code - 128 if 128 < code < 128 + signal.NSIG else None
