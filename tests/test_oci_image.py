"""The OCI image (Dockerfile), the second way to run the appliance (Jetson, x86 container hosts).

- Statically: a Debian 12 base (any architecture), the release layout of the installer, a HEALTHCHECK on
  /api/v1/health, EXPOSE 8080 8443, volumes for the data and the config, a non-root USER.
- Built for real with buildah (no Docker daemon needed: vfs storage, chroot isolation), in Docker format (the
  OCI format has no HEALTHCHECK), with the Python packages from the installer test's wheelhouse (offline);
  the image's config is checked, and its entry point is started as its user in a network namespace of its
  own: the image's own HEALTHCHECK command passes, and SIGTERM stops it with exit status 0.

The base image is `debian:bookworm-slim` from Docker Hub when Docker Hub answers; otherwise (this build
machine reaches the Debian mirror but not Docker Hub) the same Debian 12 made by debootstrap (the installer
test's cached minbase) is imported as a local base image, passed as the Dockerfile's BASE. SAFETY_OCI_BASE
names another. Needs root, buildah, unshare and ip; fails in CI without them.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, need

DOCKERFILE = ROOT / "Dockerfile"
IMAGE = "localhost/safety-appliance-test"
LOCAL_BASE = "localhost/safety-bookworm-minbase"
BUILDAH = ["buildah", "--storage-driver", "vfs"]


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_declares_base_health_ports_volumes_and_a_user():
    ins = _instructions()
    assert ("ARG", "BASE=debian:bookworm-slim") in ins          # Debian 12: Python 3.11 on arm64 and amd64
    froms = [v for k, v in ins if k == "FROM"]
    assert froms and all(v.startswith("${BASE}") for v in froms), froms
    final = ins[max(i for i, (k, _) in enumerate(ins) if k == "FROM"):]   # the run stage
    health = [v for k, v in final if k == "HEALTHCHECK"]
    assert len(health) == 1 and "http://127.0.0.1:8080/api/v1/health" in health[0], health
    assert ("EXPOSE", "8080 8443") in final
    assert any(k == "VOLUME" and "/var/lib/safety-appliance" in v and "/etc/safety-appliance" in v for k, v in final)
    users = [v for k, v in final if k == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    assert [i for i, (k, _) in enumerate(final) if k == "USER"][-1] < [i for i, (k, _) in enumerate(final) if k == "ENTRYPOINT"][-1]
    entry = ROOT / "image_build" / "container-entrypoint.sh"
    assert os.access(entry, os.X_OK)
    assert "ln -s \"releases/$version\" /opt/safety-appliance/current" in DOCKERFILE.read_text()  # update's layout


def _docker_hub() -> bool:
    try:
        urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=10).close()
    except urllib.error.HTTPError:
        return True   # 401: it answers
    except OSError:
        return False
    return True


def _base(arch: str | None = None) -> str:
    """The Debian 12 base for the host's architecture, or for `arch` (arm64 built on amd64 under qemu-user)."""
    if os.environ.get("SAFETY_OCI_BASE") and arch is None:
        return os.environ["SAFETY_OCI_BASE"]
    if _docker_hub():
        return "docker.io/library/debian:bookworm-slim"   # a multi-arch index: buildah picks --arch's image
    local = LOCAL_BASE + (f"-{arch}" if arch else "")
    if subprocess.run([*BUILDAH, "inspect", "--type", "image", local], capture_output=True).returncode == 0:
        return local
    from test_installer import _clean_rootfs_tarball  # debootstrap'ed bookworm minbase, cached

    ctr = subprocess.run([*BUILDAH, "from", "scratch"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        subprocess.run([*BUILDAH, "add", ctr, str(_clean_rootfs_tarball(arch)), "/"], capture_output=True, check=True)
        if arch:
            subprocess.run([*BUILDAH, "config", "--arch", arch, ctr], capture_output=True, check=True)
        subprocess.run([*BUILDAH, "commit", "-q", ctr, local], capture_output=True, check=True)
    finally:
        subprocess.run([*BUILDAH, "rm", ctr], capture_output=True)
    return local


RUN = """set -u
ip link set lo up
{buildah} run --isolation chroot --user {user} {ctr} -- {entry} > {log} 2>&1 &
app=$!
healthy=0
for i in $(seq 1 {tries}); do
  if {buildah} run --isolation chroot --user {user} {ctr} -- {health} >/dev/null 2>&1; then healthy=1; break; fi
  kill -0 $app 2>/dev/null || break
  sleep 1
done
echo "healthy=$healthy after=$i"
# the appliance's interpreter: the descendant of this run of buildah started from the release's venv (under
# qemu-user its command line starts with the binfmt handler, then the release's python)
descendants() {{ local c; for c in $(cat /proc/$1/task/*/children 2>/dev/null); do echo $c; descendants $c; done; }}
pid=$(for p in $(descendants $app); do tr '\\0' ' ' < /proc/$p/cmdline | grep -qE '^(/usr/libexec/qemu-binfmt/[^ ]+ )?/opt/safety-appliance/releases/' && echo $p; done | head -1)
[ -n "$pid" ] || {{ echo "no appliance process found under buildah"; kill -TERM $app; }}
echo "uid=$(awk '/^Uid:/ {{print $2}}' /proc/$pid/status)"
kill -TERM $pid
wait $app
echo "exit=$?"
"""


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_image_builds_and_its_healthcheck_passes(tmp_path):
    need(os.geteuid() == 0, "root (buildah with vfs storage and chroot isolation, unshare)")
    need(shutil.which("buildah") is not None, "buildah (Debian package buildah; image_build/debian-deps.sh test installs it)")
    need(shutil.which("unshare") is not None and shutil.which("ip") is not None, "unshare and ip (util-linux, iproute2)")
    from test_installer import _wheelhouse

    _build_start_and_check(tmp_path, _base(), _wheelhouse())


def _build_start_and_check(tmp_path: Path, base: str, wheels: Path, arch: str | None = None) -> None:
    """Build the image (for `arch`, or the host's), check its config, start it as its user in a network
    namespace of its own until its HEALTHCHECK passes, stop it with SIGTERM."""
    t0 = time.monotonic()
    timings = {}
    # the build context: the working tree as a release holds it, and the wheelhouse (hard links) for pip offline
    ctx = Path(tempfile.mkdtemp(prefix="sa-oci-", dir=tmp_path))
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                           capture_output=True, check=True).stdout
    tar = subprocess.run(["tar", "-C", str(ROOT), "--null", "-T", "-", "-cf", "-"], input=files, capture_output=True,
                         check=True).stdout
    subprocess.run(["tar", "-C", str(ctx), "-xf", "-"], input=tar, check=True)
    subprocess.run(["cp", "-al", str(wheels), str(ctx / "wheelhouse")], check=True)
    timings["base+context"] = time.monotonic() - t0
    ctr = None
    try:
        t = time.monotonic()
        r = subprocess.run([*BUILDAH, "bud", "--format", "docker", "--isolation", "chroot", "--layers=false",
                            *(["--arch", arch] if arch else []),
                            "--build-arg", f"BASE={base}", "-t", IMAGE, str(ctx)],
                           capture_output=True, text=True, timeout=2400)
        timings["build"] = time.monotonic() - t
        assert r.returncode == 0, f"buildah bud failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        inspect = subprocess.run([*BUILDAH, "inspect", "--type", "image", IMAGE], capture_output=True, text=True)
        assert inspect.returncode == 0, inspect.stderr
        image = json.loads(inspect.stdout)
        config = image["Docker"]["config"]   # the Docker format's config, HEALTHCHECK included
        if arch:
            assert image["Docker"]["architecture"] == arch, image["Docker"].get("architecture")
        assert config["User"] == "safety"
        assert set(config["ExposedPorts"]) == {"8080/tcp", "8443/tcp"}
        assert set(config["Volumes"]) == {"/var/lib/safety-appliance", "/etc/safety-appliance"}
        test = config["Healthcheck"]["Test"]
        assert test[0] == "CMD" and "http://127.0.0.1:8080/api/v1/health" in " ".join(test), test
        ctr = subprocess.run([*BUILDAH, "from", IMAGE], capture_output=True, text=True, check=True).stdout.strip()
        version = subprocess.run([*BUILDAH, "run", "--isolation", "chroot", ctr, "--", "safety-appliance", "--version"],
                                 capture_output=True, text=True, check=True).stdout.split()[-1]
        assert re.search(rf'__version__ = "{re.escape(version)}"', (ROOT / "appliance" / "__init__.py").read_text())

        # the entry point as the image's user, in a network namespace of its own (port 8080 is its own), with
        # the image's own health command
        log = tmp_path / "app.log"
        script = RUN.format(buildah=shlex.join(BUILDAH), user=config["User"], ctr=shlex.quote(ctr),
                            entry=shlex.join(config["Entrypoint"] + (config.get("Cmd") or [])),
                            health=shlex.join(test[1:]), log=shlex.quote(str(log)),
                            tries=120 if arch is None else 600)   # under qemu-user the start is ~10× slower
        t = time.monotonic()
        r = subprocess.run(["unshare", "--net", "bash", "-c", script], capture_output=True, text=True,
                           timeout=300 if arch is None else 900)
        timings["start+healthy+stop"] = time.monotonic() - t
        out = r.stdout + r.stderr + "\n" + log.read_text(errors="replace")[-4000:]
        assert "healthy=1" in r.stdout, out
        uid = re.search(r"uid=(\d+)", r.stdout)
        assert uid and uid.group(1) != "0", out
        assert "exit=0" in r.stdout, out
        assert "wrote /etc/safety-appliance/appliance.toml from the example" in log.read_text(errors="replace"), out
    finally:
        if ctr:
            subprocess.run([*BUILDAH, "rm", ctr], capture_output=True)
        subprocess.run([*BUILDAH, "rmi", "-f", IMAGE], capture_output=True)
        timings["total"] = time.monotonic() - t0
        print("OCI image test timings (s):", {k: round(v, 1) for k, v in timings.items()})


# ---- arm64 (a Raspberry Pi 4/5, a Jetson) built on this amd64 host under qemu-user: opt-in, ~20 minutes

def _arm64_wheelhouse(host_wheels: Path) -> Path:
    """The same packages for arm64: the pure-Python wheels of the host's wheelhouse (the same files on any
    architecture), the binary ones downloaded for manylinux aarch64 at the lock file's versions, and
    pyscard (no Linux wheel on PyPI) as its source with swig's aarch64 wheel to build it in the image's build
    stage, under emulation, as the box itself would."""
    from test_installer import CACHE

    wh = CACHE / f"{host_wheels.name.replace('wheelhouse-', 'wheelhouse-arm64-from-')}"
    if (wh / ".complete").exists():
        return wh
    shutil.rmtree(wh, ignore_errors=True)
    wh.mkdir(parents=True)
    binary = []
    for f in sorted(host_wheels.glob("*.whl")):
        name, version = f.name.split("-")[:2]
        if f.name.endswith("-none-any.whl"):
            shutil.copy2(f, wh)
        elif name != "pyscard":
            binary.append(f"{name}=={version}")
    pyscard = [f.name.split("-")[1] for f in host_wheels.glob("pyscard-*.whl")]
    assert pyscard, "the host's wheelhouse has no pyscard"
    platforms = [a for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_27", "manylinux_2_28", "manylinux_2_34")
                 for a in ("--platform", f"{tag}_aarch64")]
    r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "--only-binary=:all:", *platforms, "--python-version", "3.11", "--implementation", "cp",
                        "--abi", "cp311", "--abi", "abi3", "--abi", "none", "-d", str(wh), *binary, "swig"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"pip download for aarch64 failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    # pyscard's source (`pip download` would build its build dependencies here just to read its metadata)
    _fetch_sdist("pyscard", pyscard[0], wh)
    (wh / ".complete").touch()
    return wh


def _fetch_sdist(name: str, version: str, into: Path) -> None:
    """The sdist from PyPI's simple index, checked against the index's sha256."""
    import hashlib

    page = urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=30).read().decode()
    links = [h for h in re.findall(r'href="([^"]+)"', page) if f"/{name}-{version}.tar.gz" in h]
    assert links, f"no sdist of {name} {version} on PyPI"
    url, _, digest = links[0].partition("#sha256=")
    data = urllib.request.urlopen(url, timeout=120).read()
    assert hashlib.sha256(data).hexdigest() == digest, f"{name} {version}: sha256 differs from the index"
    (into / f"{name}-{version}.tar.gz").write_bytes(data)


@pytest.mark.emulated
@pytest.mark.slow
@pytest.mark.timeout(4800)
def test_arm64_image_builds_and_its_healthcheck_passes_under_emulation(tmp_path):
    """The multi-arch image's arm64 half, built here under qemu-user (binfmt) and started the same way: the
    image a Pi or a Jetson pulls. Opt-in (`pytest -m emulated tests/test_oci_image.py`): ~20 min on 2 cores."""
    need(os.geteuid() == 0, "root (buildah with vfs storage and chroot isolation, unshare)")
    need(shutil.which("buildah") is not None, "buildah")
    need(Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists(),
         "qemu-user binfmt for aarch64 (Debian: qemu-user-static, binfmt-support)")
    from test_installer import _wheelhouse

    _build_start_and_check(tmp_path, _base("arm64"), _arm64_wheelhouse(_wheelhouse()), arch="arm64")
