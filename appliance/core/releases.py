"""Releases installed side by side, a switch between them, and the way back.

Layout under the install root (`/opt/safety-appliance`, or `--root` / $SAFETY_APPLIANCE_ROOT):

    releases/<version>/   one venv per release (its own interpreter link, its own packages)
    current -> releases/<version>      what the service runs (ExecStart=<root>/current/bin/safety-appliance run)
    releases.json         the updates made: version, the one before it, the database backup taken and the
                          schema version it had

`update(bundle)` installs a release bundle (a wheel or sdist of this project; or a folder holding one, its
constraints.txt and the wheels it needs: installed offline with --no-index) into a new venv, checks that the
new release answers `--version`, backs the database up, then switches `current` atomically (a symlink made
beside it and renamed over it). The new release migrates the database when the service restarts (after its
own backup copy, `db.migrate`). `rollback()` switches `current` back to the release before, and when the
database's schema is now newer than it was at the update, puts the pre-update backup back (checked: integrity
and the event log's chain), keeping the newer database beside it. The newest `KEEP` releases are kept.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from appliance.core import db
from appliance.core.errors import ApplianceError

log = logging.getLogger(__name__)

DEFAULT_ROOT = "/opt/safety-appliance"
KEEP = 3
STATE = "releases.json"
_DIST_RE = re.compile(r"^safety[_-]appliance-([0-9][0-9A-Za-z.+!-]*?)(?:-py3-none-any\.whl|\.tar\.gz)$")


class ReleaseError(ApplianceError):
    """A release could not be installed, or there is nothing to roll back to."""

    code = "release_failed"


def _state(root: Path) -> dict:
    try:
        return json.loads((root / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"updates": []}


def _save_state(root: Path, state: dict) -> None:
    tmp = root / f"{STATE}.tmp"
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, root / STATE)


def current_version(root: Path) -> str | None:
    link = root / "current"
    return Path(os.readlink(link)).name if link.is_symlink() else None


def find_dist(bundle: Path) -> tuple[Path, str, Path | None]:
    """(the project's wheel or sdist, its version, the bundle's folder of wheels or None)."""
    if bundle.is_dir():
        found = sorted(p for p in bundle.iterdir() if _DIST_RE.match(p.name))
        if len(found) != 1:
            raise ReleaseError(f"发布包目录中应恰有一个 safety_appliance 安装包：{bundle}",
                               f"the bundle folder must hold exactly one safety_appliance wheel or sdist: {bundle} "
                               f"(found {len(found)})")
        dist, wheels = found[0], bundle
    elif bundle.is_file():
        dist, wheels = bundle, None
    else:
        raise ReleaseError(f"找不到发布包：{bundle}", f"release bundle not found: {bundle}")
    m = _DIST_RE.match(dist.name)
    if not m:
        raise ReleaseError(f"不是本项目的安装包：{dist.name}", f"not a safety_appliance wheel or sdist: {dist.name}")
    return dist, m.group(1), wheels


def switch(root: Path, version: str) -> None:
    """Point `current` at releases/<version> in one rename: the service sees the old or the new, never none."""
    tmp = root / "current.switching"
    tmp.unlink(missing_ok=True)
    os.symlink(Path("releases") / version, tmp)
    os.replace(tmp, root / "current")


def _chown_like(path: Path, ref: Path) -> None:
    """Files root writes in the service's data directory must belong to the service user, as the folder does."""
    if os.geteuid() == 0:
        st = ref.stat()
        os.chown(path, st.st_uid, st.st_gid)


def _run(cmd: list[str], what: str) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-5:]
        raise ReleaseError(f"{what}失败：{' / '.join(tail)}", f"{what} failed: {' / '.join(tail)}")
    return r.stdout


def install(dist: Path, target: Path, wheels: Path | None, *, system_site_packages: bool = False,
            extra_site: Path | None = None, python: str | None = None) -> None:
    """A new venv at `target` with the release installed. `extra_site` adds a folder of installed packages to
    the venv's path (the tests reuse their own packages so that two releases install in seconds)."""
    base = str(python or getattr(sys, "_base_executable", None) or sys.executable)
    # no pip of its own from ensurepip: the release's pip comes from the bundle (sqlite-utils needs the pinned
    # one), installed by the running release's pip (`--python`)
    _run([base, "-m", "venv", "--without-pip", *(["--system-site-packages"] if system_site_packages else []),
          str(target)], "创建虚拟环境 / creating the venv ")
    py = target / "bin" / "python"
    if extra_site is not None:
        site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], "venv").strip())
        (site / "_release_base.pth").write_text(f"{extra_site}\n", encoding="utf-8")
    extras = running_extras()
    cmd = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--disable-pip-version-check",
           f"{dist}{extras}"]
    if wheels is not None:   # the plant LAN has no internet: everything comes from the bundle
        cmd += ["--no-index", "--find-links", str(wheels)]
        if (wheels / "constraints.txt").is_file():
            cmd += ["-c", str(wheels / "constraints.txt")]
    _run(cmd, "安装 / pip install ")


# the installer's extras and a module each one brings: what the running release has, the next one gets
EXTRAS = (("pcsc", "smartcard"), ("face", "dlib"))


def running_extras(has=lambda module: importlib.util.find_spec(module) is not None) -> str:
    """The extras to install the next release with: those of the running one (install.sh installs [pcsc], and
    [pcsc,face] with --face), so an update never drops the gate's face check or the PC/SC readers."""
    found = [name for name, module in EXTRAS if has(module)]
    return f"[{','.join(found)}]" if found else ""


def update(bundle: Path, root: Path, config=None, *, system_site_packages: bool = False,
           extra_site: Path | None = None) -> dict:
    """Install `bundle` beside the running release, back the database up, switch `current` to it."""
    dist, version, wheels = find_dist(Path(bundle))
    root.mkdir(parents=True, exist_ok=True)
    (root / "releases").mkdir(exist_ok=True)
    previous = current_version(root)
    if previous == version:
        raise ReleaseError(f"版本 {version} 已在运行", f"release {version} is already the current one")
    target = root / "releases" / version
    shutil.rmtree(target, ignore_errors=True)   # a half-installed earlier try, or a release rolled back from
    # the release is run by the service user: readable whatever root's own umask is (the installer's 022)
    umask = os.umask(0o022)
    try:
        install(dist, target, wheels, system_site_packages=system_site_packages, extra_site=extra_site)
        said = _run([str(target / "bin" / "safety-appliance"), "--version"], "检查新版本 / checking the new release ")
        if said.split()[-1] != version:
            raise ReleaseError(f"新版本报告的版本号不符：{said.strip()}", f"the new release says {said.strip()!r}, not {version}")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        os.umask(umask)
    backup_path, schema = None, None
    if config is not None and config.storage.db_path.exists():
        store = config.storage
        schema = db.schema_version(store.db_path)
        if not store.backup_dir.exists():   # made by root here, it must still be the service's
            store.backup_dir.mkdir(parents=True)
            _chown_like(store.backup_dir, store.data_dir)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        backup_path = db.backup(store.db_path, store.backup_dir / f"pre-update-{previous or 'none'}-to-{version}-{stamp}.db")
        _chown_like(backup_path, store.data_dir)
    switch(root, version)
    state = _state(root)
    state["updates"].append({"version": version, "previous": previous, "at": int(time.time() * 1000),
                             "db_backup": str(backup_path) if backup_path else None, "schema_before": schema})
    _save_state(root, state)
    _prune(root, state)
    log.info("release installed and switched", extra={"version": version, "previous": previous})
    return {"version": version, "path": str(target), "previous": previous,
            "db_backup": str(backup_path) if backup_path else None}


def _prune(root: Path, state: dict) -> None:
    keep = {current_version(root)} | {u["previous"] for u in state["updates"][-KEEP:]} | \
        {u["version"] for u in state["updates"][-KEEP:]}
    for d in (root / "releases").iterdir():
        if d.is_dir() and d.name not in keep:
            shutil.rmtree(d, ignore_errors=True)


def rollback(root: Path, config=None, verify_log=None) -> dict:
    """Switch back to the release before the last update; restore the pre-update database when the update's
    release has migrated it since."""
    state = _state(root)
    if not state["updates"]:
        raise ReleaseError("没有可回退的更新记录", "no update on record to roll back")
    last = state["updates"][-1]
    now = current_version(root)
    if last["version"] != now:
        raise ReleaseError(f"当前版本 {now} 不是最后一次更新的 {last['version']}，请手动处理",
                           f"the current release {now} is not the last update's {last['version']}; sort it out by hand")
    prev = last["previous"]
    if not prev or not (root / "releases" / prev / "bin" / "safety-appliance").exists():
        raise ReleaseError(f"之前的版本不存在：{prev}", f"the previous release is not installed: {prev}")
    restored = kept = None
    if config is not None and last.get("db_backup") and config.storage.db_path.exists():
        store = config.storage
        if db.schema_version(store.db_path) > (last.get("schema_before") or 0):
            if verify_log is None:
                from appliance.core.events import verify_chain as verify_log
            kept_path = db.restore(last["db_backup"], store.db_path, store.backup_dir, verify_log)
            for p in (store.db_path, kept_path):
                if p is not None:
                    _chown_like(p, store.data_dir)
            restored, kept = last["db_backup"], str(kept_path) if kept_path else None
    switch(root, prev)
    state["updates"].pop()
    state.setdefault("rolled_back", []).append({**last, "rolled_back_at": int(time.time() * 1000)})
    _save_state(root, state)
    log.info("rolled back", extra={"version": prev, "from": now, "db_restored": restored})
    return {"version": prev, "from": now, "db_restored": restored, "db_kept": kept}
