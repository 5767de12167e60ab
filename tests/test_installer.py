"""The installer and the units it installs.

- Each unit is accepted by `systemd-analyze verify`, and the service units score at most 2.5 on
  `systemd-analyze security` (the issue's bar; 0 is locked down, 10 is unconfined).
- `image_build/install.sh` takes a clean Debian 12 (a debootstrap'ed bookworm minbase in a chroot) to an
  installed, enabled service; the service, started the way its unit starts it (its ExecStartPre and
  ExecStart lines, as user safety), answers healthy on /api/v1/health, stops cleanly on SIGTERM, starts again
  (a reboot-equivalent restart) healthy with its data, and a second run of the installer changes nothing
  that matters (config and data kept). Then the installed tree is booted twice with its own systemd as init
  (systemd-nspawn --boot): the unit runs exactly as on a box, hardening included (system-call filter, device
  policy, read-only system), is healthy with the data after each boot, and stops cleanly at each shutdown.
  Before those boots the tree is made what a Raspberry Pi image leaves (`install.sh --image`: no session key,
  no CA, no kiosk token, a placeholder appliance_id): the first boot's safety-firstboot.service makes them
  (image_build/box-secrets.sh, the script install.sh runs too) and writes the setup address and the CA's
  fingerprint for the console; the second boot skips it.

The chroot test needs root, debootstrap, systemd-nspawn and the Debian mirror; it fails in CI without them. The clean
system is cached as a tarball under ~/.cache/safety-appliance (SAFETY_ROOTFS_CACHE moves it), the Python
packages come from a wheelhouse built on this host from constraints.txt (cached the same way, keyed by the
lock file's hash), and apt's downloads are shared with the host's /var/cache/apt/archives.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, need

UNITS = ROOT / "systemd"
EXPOSURE_MAX = 2.5


def _local_unit(tmp_path, name: str):
    """The unit with its program pointed at this checkout's virtualenv (systemd-analyze checks that it exists)."""
    exe = ROOT / ".venv" / "bin" / "safety-appliance"
    need(exe.exists(), "the project virtualenv (make test creates it)")
    local = tmp_path / name
    text = (UNITS / name).read_text(encoding="utf-8")
    local.write_text(text.replace("/opt/safety-appliance/current/bin/safety-appliance", str(exe)), encoding="utf-8")
    return local


def _exposure(unit) -> float:
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    return float(m.group(1))


@pytest.mark.parametrize("name", ["safety-appliance.service", "safety-station.service"])
def test_service_unit_is_hardened(tmp_path, name):
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian package systemd)")
    unit = _local_unit(tmp_path, name)
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in r.stderr.splitlines() if name in line]
    assert r.returncode == 0 and not problems, r.stderr
    exposure = _exposure(unit)
    assert exposure <= EXPOSURE_MAX, f"{name}: systemd-analyze security exposure {exposure} > {EXPOSURE_MAX}"


def test_hardening_keeps_what_the_appliance_needs():
    """Type=notify with the watchdog, the device groups, and the device classes of the supported readers
    and cameras stay reachable through the closed device policy."""
    unit = (UNITS / "safety-appliance.service").read_text(encoding="utf-8")
    for line in ("Type=notify", "WatchdogSec=30", "SupplementaryGroups=dialout plugdev video", "DevicePolicy=closed",
                 "DeviceAllow=char-ttyUSB rw", "DeviceAllow=char-usb_device rw", "DeviceAllow=char-video4linux rw",
                 "EnvironmentFile=-/etc/safety-appliance/secrets.env"):
        assert f"\n{line}\n" in unit, line
    assert "PrivateDevices=yes" not in unit  # it would hide /dev/ttyUSB*, /dev/bus/usb and /dev/video*


@pytest.mark.parametrize("name, program", [("safety-kiosk.service", "/usr/bin/cage"),
                                           ("safety-camera-csi.service", "/usr/bin/rpicam-vid"),
                                           ("safety-firstboot.service", "/usr/local/lib/safety-appliance/firstboot.sh")])
def test_optional_unit_verifies(tmp_path, name, program):
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian package systemd)")
    unit = tmp_path / name
    # cage (--kiosk), rpicam-vid (Raspberry Pi OS) and the installed first-boot script are not on this machine:
    # point the check at a program that is
    unit.write_text((UNITS / name).read_text(encoding="utf-8").replace(program, "/bin/true"), encoding="utf-8")
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in r.stderr.splitlines() if name in line]
    assert not problems, r.stderr


# ---------------------------------------------------------------------------------------------------------
# install.sh on a clean Debian 12, in a chroot

SUITE = "bookworm"
MIRROR = os.environ.get("SAFETY_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = Path(os.environ.get("SAFETY_ROOTFS_CACHE", Path.home() / ".cache" / "safety-appliance"))
APT_ARCHIVES = Path(os.environ.get("SAFETY_APT_ARCHIVES", "/var/cache/apt/archives"))
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ADMIN_PASSWORD = "first-admin-pass-1"
VERSION = re.search(r'^__version__ = "([^"]+)"$', (ROOT / "appliance" / "__init__.py").read_text("utf-8"), re.M)[1]
NEXT = "99.0.0"   # the release the test updates to


def _arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def _clean_rootfs_tarball(arch: str | None = None) -> Path:
    """A bookworm minbase made by debootstrap once and kept as a tarball (debootstrap takes ~30 s, unpacking ~5 s).
    Another architecture (arm64 on an amd64 host) runs its second stage under qemu-user's binfmt handler."""
    arch = arch or _arch()
    tarball = CACHE / f"{SUITE}-minbase-{arch}.tar.gz"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sa-debootstrap-", dir=CACHE))
    try:
        root = work / "root"
        cache = APT_ARCHIVES if arch == _arch() else work / "archives"   # apt's cache holds the host's packages
        cache.mkdir(exist_ok=True)
        r = subprocess.run(["debootstrap", "--variant=minbase", f"--arch={arch}", f"--cache-dir={cache}", SUITE,
                            str(root), MIRROR],
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"debootstrap {SUITE} from {MIRROR} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-czf", str(work / "t.tar.gz"), "."], check=True)
        (work / "t.tar.gz").replace(tarball)
    finally:
        _remove_tree(work)
    return tarball


def _wheelhouse() -> Path:
    """The Python packages install.sh installs, built on this host once per lock file (pyscard compiled here)."""
    key = hashlib.sha256((ROOT / "constraints.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    wh = CACHE / f"wheelhouse-{_arch()}-{key}"
    if (wh / ".complete").exists():
        return wh
    # Debian's own Python builds the wheels, the one the chroot runs (any CPython 3.11 has the same ABI)
    py = "/usr/bin/python3"
    if subprocess.run([py, "-c", "import venv, ensurepip"], capture_output=True).returncode != 0:
        py = sys.executable
    shutil.rmtree(wh, ignore_errors=True)
    r = subprocess.run(["bash", str(ROOT / "image_build" / "wheelhouse.sh"), str(wh), py],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"image_build/wheelhouse.sh failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    (wh / ".complete").touch()
    return wh


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as fh:
        return [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]


def _remove_tree(path: Path) -> None:
    """rm -rf that never follows into a mount left behind (the host's /dev)."""
    for m in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    assert not _mounts_under(path), f"mounts left under {path}: {_mounts_under(path)}"
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


class Chroot:
    """A clean Debian root with /proc, /dev, the wheelhouse and apt's download cache mounted."""

    def __init__(self, base: Path, tarball: Path, wheelhouse: Path):
        self.base = base
        self.root = base / "root"
        self.root.mkdir()
        subprocess.run(["tar", "-C", str(self.root), "--numeric-owner", "-xzf", str(tarball)], check=True)
        shutil.copy("/etc/resolv.conf", self.root / "etc" / "resolv.conf")
        (self.root / "wheelhouse").mkdir()
        self.wheelhouse = wheelhouse
        self.mount()

    def mount(self) -> None:
        wheelhouse = self.wheelhouse
        self._mount("-t", "proc", "proc", self.root / "proc")
        self._mount("--rbind", "/dev", self.root / "dev")
        subprocess.run(["mount", "--make-rslave", str(self.root / "dev")], check=True)
        self._mount("--bind", str(wheelhouse), self.root / "wheelhouse")
        self._mount("-o", "remount,bind,ro", str(self.root / "wheelhouse"))
        if APT_ARCHIVES.is_dir():
            self._mount("--bind", str(APT_ARCHIVES), self.root / "var/cache/apt/archives")

    @staticmethod
    def _mount(*args) -> None:
        subprocess.run(["mount", *map(str, args)], check=True)

    def run(self, *argv: str, user: tuple[int, int, list[int]] | None = None, env: dict | None = None,
            check=True, timeout=600, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(self.argv(*argv, user=user, env=env), capture_output=True, text=True,
                           timeout=timeout, **kw)
        assert not check or r.returncode == 0, f"{argv} exited {r.returncode}:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        return r

    def argv(self, *argv: str, user=None, env: dict | None = None) -> list[str]:
        """chroot (as `user` = (uid, gid, groups) when given) with only `env` in the environment. chroot execs
        the command, so its pid is the service's own (systemd's MAINPID: SIGTERM and WATCHDOG_PID go there)."""
        pre = ["chroot"]
        if user:
            uid, gid, groups = user
            pre += [f"--userspec={uid}:{gid}", "--groups=" + ",".join(map(str, groups))]
        env = {"PATH": PATH_ENV, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
        return [*pre, str(self.root), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def unmount(self) -> None:
        for m in sorted(_mounts_under(self.root), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=True)

    def close(self) -> None:
        _remove_tree(self.base)


class Booted:
    """The chroot's tree booted with its own systemd as init (systemd-nspawn --boot, the host's network):
    the units run as systemd runs them on a box, hardening included. SIGTERM to nspawn shuts it down
    cleanly (systemd stops every unit), like `poweroff`."""

    def __init__(self, chroot: Chroot, name: str):
        self.chroot, self.name = chroot, name
        self.log = open(chroot.base / f"{name}.log", "wb")
        self.proc = subprocess.Popen(["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
                                      "--console=passive", f"--machine={name}", f"--bind-ro={chroot.wheelhouse}:/wheelhouse",
                                      "-D", str(chroot.root)],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def init_pid(self) -> int:
        """The container's systemd: the descendant of nspawn named systemd."""
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                if pid != self.proc.pid and Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return pid
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
        raise AssertionError("no systemd inside the container")

    def run(self, *argv: str, timeout=600, check=True) -> subprocess.CompletedProcess:
        """A command inside the booted container (all its namespaces), as root, with a clean environment."""
        r = subprocess.run(["nsenter", "-t", str(self.init_pid()), "-a", "/usr/bin/env", "-i", f"PATH={PATH_ENV}",
                            "HOME=/root", "LANG=C.UTF-8", *argv], capture_output=True, text=True, timeout=timeout)
        assert not check or r.returncode == 0, f"{argv} exited {r.returncode}:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        return r

    def console(self) -> str:
        return (self.chroot.base / f"{self.name}.log").read_text(errors="replace")[-4000:]

    def poweroff(self, timeout=90) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.name}", ignore_errors=True)

    def journal(self, unit: str) -> str:
        return subprocess.run(["journalctl", "-D", str(self.chroot.path("/var/log/journal")), "-u", unit, "--no-pager",
                               "-o", "cat"], capture_output=True, text=True, timeout=60).stdout


def _unit_settings(text: str) -> dict[str, list[str]]:
    """[Service] key → values, in order, with continuation lines joined (what systemd reads)."""
    out: dict[str, list[str]] = {}
    section = None
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def _service_env(chroot: Chroot, unit: dict[str, list[str]]) -> dict[str, str]:
    env = {}
    for assignment in " ".join(unit.get("Environment", [])).split():
        k, v = assignment.split("=", 1)
        env[k] = v
    for f in unit.get("EnvironmentFile", []):
        path = chroot.path(f.lstrip("-"))
        if not path.exists():
            assert f.startswith("-"), f"EnvironmentFile {f} is missing"
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip()
    return env


def _service_user(chroot: Chroot, unit: dict[str, list[str]]) -> tuple[int, int, list[int]]:
    passwd = {l.split(":")[0]: l.split(":") for l in chroot.path("/etc/passwd").read_text().splitlines()}
    groups = {l.split(":")[0]: l.split(":") for l in chroot.path("/etc/group").read_text().splitlines()}
    user = passwd[unit["User"][0]]
    uid, gid = int(user[2]), int(groups[unit["Group"][0]][2])
    extra = [int(groups[g][2]) for g in " ".join(unit.get("SupplementaryGroups", [])).split()]
    return uid, gid, extra


def _get(url: str, token: str | None = None, timeout=10) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Service:
    """The installed unit's ExecStartPre and ExecStart, run as its user with its environment, UMask and a
    notify socket, the way systemd starts it."""

    def __init__(self, chroot: Chroot, port: int):
        self.chroot, self.port = chroot, port
        self.unit = _unit_settings(chroot.path("/etc/systemd/system/safety-appliance.service").read_text())
        self.user = _service_user(chroot, self.unit)
        self.proc: subprocess.Popen | None = None
        self.messages: list[str] = []

    def _wrap(self, cmdline: str) -> list[str]:
        umask = self.unit.get("UMask", ["0022"])[-1]
        # the unit's UMask= through the chroot's own shell, which then execs the command (same pid)
        return ["/bin/sh", "-c", f'umask {umask} && exec "$@"', "sh", *shlex.split(cmdline)]

    def credentials(self) -> dict[str, str]:
        """LoadCredential=NAME:PATH as systemd does it: each file copied into a folder only the service's user
        reads, named by $CREDENTIALS_DIRECTORY."""
        if not self.unit.get("LoadCredential"):
            return {}
        folder = self.chroot.path("/run/sa-credentials")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o500, parents=True)
        for spec in self.unit["LoadCredential"]:
            name, source = spec.split(":", 1)
            shutil.copyfile(self.chroot.path(source), folder / name)
            os.chmod(folder / name, 0o400)
            os.chown(folder / name, self.user[0], self.user[1])
        os.chown(folder, self.user[0], self.user[1])
        return {"CREDENTIALS_DIRECTORY": "/run/sa-credentials"}

    def release(self) -> str:
        """The release folder the running service's interpreter is in (/proc/PID/cmdline: the venv's python)."""
        assert self.proc is not None
        return Path(Path(f"/proc/{self.proc.pid}/cmdline").read_bytes().split(b"\0")[0].decode()).parent.parent.name

    def start(self, timeout=120) -> None:
        env = {**_service_env(self.chroot, self.unit), **self.credentials()}
        self.messages = []
        for pre in self.unit.get("ExecStartPre", []):
            self.chroot.run(*self._wrap(pre), user=self.user, env=env, timeout=120)
        sock_path = self.chroot.path("/run/sa-notify.sock")
        sock_path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(sock_path))
        os.chmod(sock_path, 0o777)
        sock.settimeout(1)
        (execstart,) = self.unit["ExecStart"]
        watchdog_usec = int(float(self.unit["WatchdogSec"][0]) * 1_000_000)
        self.proc = subprocess.Popen(
            self.chroot.argv(*self._wrap(execstart), user=self.user,
                             env={**env, "NOTIFY_SOCKET": "/run/sa-notify.sock", "WATCHDOG_USEC": str(watchdog_usec)}),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        try:
            while "READY=1" not in self.messages:
                assert self.proc.poll() is None, f"the service exited {self.proc.returncode}:\n{self.proc.stdout.read()[-4000:]}"
                assert time.monotonic() < deadline, f"no READY=1 in {timeout} s; got {self.messages}"
                try:
                    self.messages += sock.recv(4096).decode().split("\n")
                except TimeoutError:
                    pass
        finally:
            sock.close()

    def healthy(self, timeout=30) -> dict:
        return _healthy(self.port, timeout)

    def stop(self) -> int:
        """SIGTERM, as systemctl stop sends it; the exit status within the unit's TimeoutStopSec."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=float(self.unit["TimeoutStopSec"][0]))
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.output = self.proc.stdout.read()
        self.proc.stdout.close()
        return self.proc.returncode


def _healthy(port: int, timeout=30, alive=lambda: True, why=lambda: "") -> dict:
    """/api/v1/health once every component says ok (mDNS is `degraded: starting` for its first moments)."""
    deadline = time.monotonic() + timeout
    status, body = 0, {}
    while True:
        try:
            status, body = _get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
        except OSError as e:
            status, body = 0, {"error": str(e)}
        if status == 200 and body["status"] == "ok":
            return body
        assert alive(), f"gone before it was healthy: {why()}"
        assert time.monotonic() < deadline, f"not healthy in {timeout} s: {status} {body}\n{why()}"
        time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_install_on_clean_debian_then_restart():
    need(os.geteuid() == 0, "root (debootstrap, chroot and mounts)")
    need(Path("/usr/sbin/debootstrap").exists(),
         "debootstrap (Debian package debootstrap; image_build/debian-deps.sh test installs it)")
    need(shutil.which("systemd-nspawn") is not None,
         "systemd-nspawn (Debian package systemd-container; image_build/debian-deps.sh test installs it)")
    try:
        urllib.request.urlopen(f"{MIRROR}/dists/{SUITE}/Release", timeout=15).close()
    except OSError as e:
        need(False, f"the Debian mirror {MIRROR} ({e})")
    t0 = time.monotonic()
    tarball, wheelhouse = _clean_rootfs_tarball(), _wheelhouse()
    timings = {"rootfs+wheelhouse": time.monotonic() - t0}
    chroot = Chroot(Path(tempfile.mkdtemp(prefix="sa-chroot-")), tarball, wheelhouse)
    service = None
    try:
        src = chroot.path("/root/safety-appliance")
        src.mkdir()
        # the working tree as a release holds it: tracked files and new ones, not what git ignores
        files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                               capture_output=True, check=True).stdout
        with open(chroot.base / "src.tar", "wb") as fh:
            subprocess.run(["tar", "-C", str(ROOT), "--null", "-T", "-", "-cf", "-"], input=files, check=True, stdout=fh)
        subprocess.run(["tar", "-C", str(src), "-xf", str(chroot.base / "src.tar")], check=True)
        assert not chroot.path("/usr/bin/python3").exists()  # clean: not even Python

        t = time.monotonic()
        install = ["bash", "/root/safety-appliance/image_build/install.sh", "--no-start",
                   "--wheelhouse", "/wheelhouse", "--admin", "admin"]
        r = chroot.run(*install, input=ADMIN_PASSWORD + "\n", timeout=1200)
        timings["install"] = time.monotonic() - t
        assert "created user admin" in r.stdout, r.stdout
        assert chroot.path("/etc/systemd/system/multi-user.target.wants/safety-appliance.service").is_symlink()
        uid, gid, _ = _service_user(chroot, _unit_settings(chroot.path("/etc/systemd/system/safety-appliance.service").read_text()))
        st = chroot.path("/etc/safety-appliance/appliance.toml").stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, gid, 0o640)
        st = chroot.path("/etc/safety-appliance/secrets.env").stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o600)
        for p in (chroot.path("/var/lib/safety-appliance"), *chroot.path("/var/lib/safety-appliance").rglob("*")):
            assert p.stat().st_uid == uid, f"{p} is not owned by the service user"
        assert chroot.path("/etc/udev/rules.d/60-safety-appliance-readers.rules").exists()
        assert "blacklist port100" in chroot.path("/etc/modprobe.d/safety-appliance-blacklist.conf").read_text()
        assert chroot.path("/etc/systemd/system/sockets.target.wants/pcscd.socket").exists()
        # the layout `update` and `rollback` use: a venv per release, `current` a relative link the units run
        assert os.readlink(chroot.path("/opt/safety-appliance/current")) == f"releases/{VERSION}"
        assert chroot.path(f"/opt/safety-appliance/releases/{VERSION}/bin/safety-appliance").exists()
        assert not chroot.path("/opt/safety-appliance/.venv").exists()
        unit = _unit_settings(chroot.path("/etc/systemd/system/safety-appliance.service").read_text())
        assert all(c.startswith("/opt/safety-appliance/current/bin/safety-appliance ")
                   for c in unit["ExecStart"] + unit["ExecStartPre"])
        # the session key as a systemd credential: root-only, 64 hex digits
        key_file = chroot.path("/etc/safety-appliance/credentials/session_key")
        st = key_file.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o600)
        assert re.fullmatch(r"[0-9a-f]{64}\n", key_file.read_text())
        assert unit["LoadCredential"] == ["session_key:/etc/safety-appliance/credentials/session_key"]
        # box-secrets.sh made the HTTPS CA (as the service user) and the appliance_id from the hostname
        assert re.search(r"CA fingerprint \(SHA-256\): ([0-9A-F]{2}:){31}[0-9A-F]{2}", r.stdout), r.stdout
        assert chroot.path("/var/lib/safety-appliance/tls/ca.key").exists()
        assert 'appliance_id = "appliance-unset"' not in chroot.path("/etc/safety-appliance/appliance.toml").read_text()
        assert not chroot.path("/etc/safety-appliance/firstboot-pending").exists()

        # the plant's admin edits the config: here, a free port on loopback only
        port = _free_port()
        cfg = chroot.path("/etc/safety-appliance/appliance.toml")
        text = cfg.read_text(encoding="utf-8")
        for old, new in (('host = "0.0.0.0"', 'host = "127.0.0.1"'), ("port = 8080", f"port = {port}"),
                         ("tls_port = 8443", f"tls_port = {_free_port()}"),
                         ("interfaces = []", 'interfaces = ["127.0.0.1"]')):
            assert old in text, old
            text = text.replace(old, new, 1)
        cfg.write_text(text, encoding="utf-8")

        service = Service(chroot, port)
        t = time.monotonic()
        service.start()
        timings["start"] = time.monotonic() - t
        service.healthy()
        # data written by the service's user through the CLI, as the installer does
        token = chroot.run("/opt/safety-appliance/current/bin/safety-appliance", "create-token", "--config",
                           "/etc/safety-appliance/appliance.toml", "--name", "wall", user=(uid, gid, []),
                           ).stdout.strip()
        assert _get(f"http://127.0.0.1:{port}/api/v1/me", token)[0] == 200
        assert service.release() == VERSION
        assert service.stop() == 0, service.output[-4000:]

        # an update to a newer release: its bundle made by image_build/bundle.sh from the wheelhouse (offline),
        # installed by `update` as root beside the first one, `current` switched to it
        t = time.monotonic()
        chroot.run("cp", "-a", "/root/safety-appliance", "/root/sa-next")
        init = chroot.path("/root/sa-next/appliance/__init__.py")
        init.write_text(init.read_text("utf-8").replace(f'__version__ = "{VERSION}"', f'__version__ = "{NEXT}"'), "utf-8")
        r = chroot.run("bash", "/root/sa-next/image_build/bundle.sh", "--wheelhouse", "/wheelhouse", "/root/bundle-next")
        assert chroot.path(f"/root/bundle-next/safety_appliance-{NEXT}-py3-none-any.whl").exists(), r.stdout
        assert list(chroot.path("/root/bundle-next").glob("pip-*.whl")), "the bundle brings pip"
        timings["bundle"] = time.monotonic() - t
        t = time.monotonic()
        app = "/opt/safety-appliance/current/bin/safety-appliance"
        config = ("--config", "/etc/safety-appliance/appliance.toml")
        r = chroot.run(app, "update", "/root/bundle-next", *config, env={"PYTHONDONTWRITEBYTECODE": "1"})
        timings["update"] = time.monotonic() - t
        assert f"installed and switched to {NEXT}" in r.stdout, r.stdout
        assert os.readlink(chroot.path("/opt/safety-appliance/current")) == f"releases/{NEXT}"
        assert chroot.run(app, "--version").stdout.split()[-1] == NEXT
        assert chroot.run(f"/opt/safety-appliance/releases/{NEXT}/bin/python", "-c", "import smartcard")  # [pcsc]

        # the installer again, on the updated box, adding the kiosk: the updated release stays current; config,
        # secrets, the session key and data are kept. --no-apt: cage and Chromium (~120 MB) are not fetched
        # for this; the rest of --kiosk runs
        key_before = key_file.read_bytes()
        secrets_before = chroot.path("/etc/safety-appliance/secrets.env").read_bytes()
        t = time.monotonic()
        r = chroot.run(*install, "--kiosk", "--no-apt", "--ntp-server", "ntp.plant.example", timeout=600)
        timings["reinstall"] = time.monotonic() - t
        chrony = chroot.path("/etc/chrony/conf.d/safety-appliance.conf").read_text()
        assert "\nserver ntp.plant.example iburst prefer\n" in chrony and "\nmakestep 1 3\n" in chrony, chrony
        assert "admin user admin exists" in r.stdout, r.stdout
        assert f"this box runs release {NEXT}" in r.stdout, r.stdout
        assert os.readlink(chroot.path("/opt/safety-appliance/current")) == f"releases/{NEXT}"
        assert key_file.read_bytes() == key_before
        assert f"port = {port}" in cfg.read_text(encoding="utf-8")
        assert chroot.path("/etc/safety-appliance/secrets.env").read_bytes() == secrets_before
        kiosk_env = chroot.path("/etc/safety-appliance/kiosk.env")
        assert kiosk_env.stat().st_mode & 0o777 == 0o600
        m = re.fullmatch(rf"KIOSK_URL=http://127\.0\.0\.1:{port}/kiosk\?token=(\S+)\n", kiosk_env.read_text())
        assert m, kiosk_env.read_text()
        assert chroot.path("/etc/systemd/system/graphical.target.wants/safety-kiosk.service").is_symlink()
        assert chroot.path("/etc/pam.d/safety-kiosk").exists()

        # reboot-equivalent restart: healthy again, with the data
        service.start()
        service.healthy()
        status, me = _get(f"http://127.0.0.1:{port}/api/v1/me", token)
        assert status == 200 and me["name"] == "wall", me
        assert _get(f"http://127.0.0.1:{port}/api/v1/me", m.group(1))[0] == 200  # the kiosk's token
        assert service.release() == NEXT   # started from the updated release
        assert service.stop() == 0, service.output[-4000:]

        # rollback (service stopped) switches back to the installer's release; the boots below run it
        t = time.monotonic()
        r = chroot.run(app, "rollback", *config)
        timings["rollback"] = time.monotonic() - t
        assert f"rolled back to {VERSION} (from {NEXT})" in r.stdout, r.stdout
        assert os.readlink(chroot.path("/opt/safety-appliance/current")) == f"releases/{VERSION}"
        for p in chroot.path("/var/lib/safety-appliance").rglob("*"):
            assert p.stat().st_uid == uid, f"{p} is not owned by the service user"

        # a real boot of the installed system (its own systemd as init), twice: the unit as systemd runs it,
        # hardening included, healthy with the data; the first shutdown stops it cleanly
        # the backup stick's mount point (docs/INSTALL.md §11), owned by the service user as the fstab line's
        # uid=/gid= make the stick. Not mounted here: a tmpfs by that fstab line was not mounted in the container
        chroot.path("/media/safety-backup").mkdir(parents=True, exist_ok=True)
        os.chown(chroot.path("/media/safety-backup"), uid, gid)

        # the tree as a Raspberry Pi image leaves it (image_build/pi-gen runs `install.sh --image`): no session
        # key, no CA, no kiosk token, the appliance_id a placeholder; the first boot below makes them
        r = chroot.run("bash", "/root/safety-appliance/image_build/install.sh", "--image", "--no-apt",
                       "--wheelhouse", "/wheelhouse", check=False)
        assert r.returncode != 0 and "an image must not carry one box's secrets" in r.stderr, r.stderr
        key_file.unlink()
        kiosk_env.unlink()
        shutil.rmtree(chroot.path("/var/lib/safety-appliance/tls"))
        cfg.write_text(re.sub(r'^appliance_id = "[^"]*"', 'appliance_id = "appliance-unset"', cfg.read_text("utf-8"),
                              flags=re.M), encoding="utf-8")
        t = time.monotonic()
        r = chroot.run("bash", "/root/safety-appliance/image_build/install.sh", "--image", "--no-apt",
                       "--wheelhouse", "/wheelhouse", timeout=600)
        timings["install --image"] = time.monotonic() - t
        assert "made at its first boot" in r.stdout, r.stdout
        pending = chroot.path("/etc/safety-appliance/firstboot-pending")
        assert pending.exists() and not key_file.exists() and not kiosk_env.exists()
        assert not chroot.path("/var/lib/safety-appliance/tls").exists()
        assert chroot.path("/etc/systemd/system/multi-user.target.wants/safety-firstboot.service").is_symlink()
        chroot.unmount()
        for n in (1, 2):
            t = time.monotonic()
            box = Booted(chroot, f"sa-test-{os.getpid()}-{n}")
            try:
                _healthy(port, timeout=120, alive=lambda: box.proc.poll() is None, why=box.console)
                timings[f"boot {n}"] = time.monotonic() - t
                status, me = _get(f"http://127.0.0.1:{port}/api/v1/me", token)
                assert status == 200 and me["name"] == "wall", me
                firstboot = [box.run("systemctl", "show", "-P", prop, "safety-firstboot").stdout.strip()
                             for prop in ("ActiveState", "ConditionResult")]
                firstboot_log = box.run("journalctl", "-b", "-u", "safety-firstboot", "--no-pager", "-o", "cat").stdout
                if n == 1:
                    # the first boot made this box's secrets before the appliance started, and the console text
                    assert firstboot == ["active", "yes"], firstboot + [firstboot_log]
                    assert not pending.exists()
                    assert re.fullmatch(r"[0-9a-f]{64}\n", key_file.read_text())
                    session_key = key_file.read_bytes()
                    text = cfg.read_text("utf-8")
                    appliance_id = re.search(r'^appliance_id = "([^"]+)"', text, re.M)[1]
                    assert re.fullmatch(r"appliance-[A-Za-z0-9_.-]+-[0-9a-f]{6}", appliance_id), appliance_id
                    from cryptography import x509

                    from appliance.core import tls as tls_files
                    ca = x509.load_pem_x509_certificate(chroot.path("/var/lib/safety-appliance/tls/ca.crt").read_bytes())
                    issue = chroot.path("/etc/issue.d/safety-appliance.issue").read_text()
                    tls_port = re.search(r"^tls_port = (\d+)", text, re.M)[1]
                    assert f"CA SHA-256 {tls_files.fingerprint(ca)}\n" in issue, issue
                    assert f"https://\\4:{tls_port}/" in issue and appliance_id in issue, issue
                    assert f"CA fingerprint (SHA-256): {tls_files.fingerprint(ca)}" in firstboot_log, firstboot_log
                    new_kiosk = re.fullmatch(rf"KIOSK_URL=http://127\.0\.0\.1:{port}/kiosk\?token=(\S+)\n", kiosk_env.read_text())
                    assert new_kiosk and _get(f"http://127.0.0.1:{port}/api/v1/me", new_kiosk.group(1))[0] == 200
                else:
                    assert firstboot == ["inactive", "no"], firstboot   # once only
                    assert key_file.read_bytes() == session_key
                pid = box.run("systemctl", "show", "-P", "MainPID", "safety-appliance").stdout.strip()
                cmdline = box.run("cat", f"/proc/{pid}/cmdline").stdout
                assert cmdline.startswith(f"/opt/safety-appliance/releases/{VERSION}/bin/python"), cmdline
                if n == 2:
                    # in the service's own mount namespace (ProtectSystem=strict) and as its user, the backup
                    # folder is writable (ReadWritePaths=-/media/safety-backup); the rest of /media is read-only
                    in_service = ("nsenter", "-t", pid, "-m", "--", "setpriv", f"--reuid={uid}", f"--regid={gid}",
                                  "--clear-groups")
                    box.run(*in_service, "touch", "/media/safety-backup/probe")
                    r = box.run(*in_service, "touch", "/media/probe", check=False)
                    assert r.returncode != 0 and "Read-only file system" in r.stderr, r.stderr
                if n == 1:
                    # the installer on the running box (no --no-start): it reloads udev, journald and the
                    # modules, and restarts the service, which comes back healthy
                    t = time.monotonic()
                    r = box.run("bash", "/root/safety-appliance/image_build/install.sh", "--no-apt",
                                "--wheelhouse", "/wheelhouse")
                    timings["install on the running box"] = time.monotonic() - t
                    assert "==> running: http://" in r.stdout, r.stdout
                    assert box.run("systemctl", "is-active", "safety-appliance").stdout.strip() == "active"
                    _healthy(port, timeout=60)
            finally:
                box.poweroff()
        journal = box.journal("safety-appliance.service")
        # boot 1, the installer's restart, boot 2: three starts, three clean stops
        assert journal.count("Started safety-appliance.service") == 3, journal[-4000:]
        assert journal.count("Deactivated successfully") == 3, journal[-4000:]
        assert "Failed with result" not in journal and "Watchdog timeout" not in journal, journal[-4000:]
        # every start had the credential: no key was ever made in the data directory
        assert not chroot.path("/var/lib/safety-appliance/secret_key").exists()

        # the same installer makes a satellite reader station: its unit instead of the appliance's
        chroot.mount()
        r = chroot.run("bash", "/root/safety-appliance/image_build/install.sh", "--no-start", "--no-apt",
                       "--wheelhouse", "/wheelhouse", "--station", timeout=600)
        assert "not started: put its key" in r.stdout, r.stdout
        wants = chroot.path("/etc/systemd/system/multi-user.target.wants")
        assert (wants / "safety-station.service").is_symlink() and not (wants / "safety-appliance.service").exists()
        assert chroot.path("/etc/safety-appliance/station.env").stat().st_mode & 0o777 == 0o600
        st = chroot.path("/etc/safety-appliance/station.toml").stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, gid, 0o640)
    finally:
        if service and service.proc and service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait()
        chroot.close()
        timings["total"] = time.monotonic() - t0
        print("installer test timings (s):", {k: round(v, 1) for k, v in timings.items()})
