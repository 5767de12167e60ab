"""Updates and rollback (issue 16): two real releases built from this checkout (`pip wheel`), installed side by
side in a temporary root, the newer one migrating the database, the rollback switching back and putting the
pre-update database back; and the refusal to touch the service's data as root."""
from __future__ import annotations

import os
import pwd
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from appliance.core import db, releases
from conftest import ROOT, need, run_cli, write_config


def _build(src: Path, version: str, out: Path, migration: str | None = None) -> Path:
    init = src / "appliance" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text("utf-8")), "utf-8")
    if migration:   # the next free number across the core's and the domains' migrations
        n = max(int(p.name[:4]) for p in src.glob("appliance/**/migrations/[0-9]*.sql")) + 1
        (src / "appliance" / "core" / "migrations" / f"{n:04d}_release_marker.sql").write_text(migration, "utf-8")
    out.mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(out)], cwd=src,
                       capture_output=True, text=True, timeout=300)
    need(r.returncode == 0, f"pip wheel failed (needs setuptools>=77 from the local index): {r.stderr[-500:]}")
    [wheel] = out.glob("safety_appliance-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """9.0.0 and 9.1.0 of this checkout; 9.1.0 adds a migration."""
    base = tmp_path_factory.mktemp("releases-src")
    src = base / "src"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for f in filter(None, files):
        rel = Path(f.decode())
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    w1 = _build(src, "9.0.0", base / "w1")
    bundle = base / "bundle-9.1.0"   # the folder form: the wheel and the constraints, installed offline
    w2 = _build(src, "9.1.0", bundle, "CREATE TABLE release_marker (id INTEGER PRIMARY KEY);\n")
    shutil.copy2(ROOT / "constraints.txt", bundle / "constraints.txt")
    return w1, w2.parent


def _version(root: Path) -> str:
    r = subprocess.run([str(root / "current" / "bin" / "safety-appliance"), "--version"], capture_output=True,
                       text=True, timeout=60)
    return r.stdout.split()[-1]


@pytest.mark.slow   # two wheels built, two venvs: ~20 s
def test_update_then_rollback_restores_the_pre_update_database(wheels, tmp_path):
    from appliance.config import load_config

    w1, bundle = wheels
    host_site = Path(sysconfig.get_paths()["purelib"])   # this venv's packages: no wheelhouse needed here
    root = tmp_path / "opt"
    cfg_path = write_config(tmp_path / "data")
    cfg = load_config(cfg_path)
    assert run_cli("init-db", "--config", str(cfg_path)).returncode == 0
    before = db.schema_version(cfg.storage.db_path)

    first = releases.update(w1, root, cfg, extra_site=host_site)
    assert first["previous"] is None and _version(root) == "9.0.0"
    assert os.readlink(root / "current") == "releases/9.0.0"

    second = releases.update(bundle, root, cfg, extra_site=host_site)
    assert second["previous"] == "9.0.0" and _version(root) == "9.1.0"
    assert Path(second["db_backup"]).exists() and (root / "releases" / "9.0.0").is_dir()   # side by side
    new_bin = str(root / "current" / "bin" / "safety-appliance")
    r = subprocess.run([new_bin, "init-db", "--config", str(cfg_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "release_marker" in r.stdout, r.stderr      # 9.1.0 migrates at its start
    assert db.schema_version(cfg.storage.db_path) == before + 1

    r = subprocess.run([new_bin, "rollback", "--root", str(root), "--config", str(cfg_path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "rolled back to 9.0.0" in r.stdout and "database restored" in r.stdout
    assert _version(root) == "9.0.0"
    assert db.schema_version(cfg.storage.db_path) == before
    conn = sqlite3.connect(cfg.storage.db_path)
    try:
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'release_marker'").fetchall()
    finally:
        conn.close()
    assert list(cfg.storage.backup_dir.glob("before-restore-*.db"))           # the migrated one is kept
    old_bin = str(root / "current" / "bin" / "safety-appliance")
    r = subprocess.run([old_bin, "init-db", "--config", str(cfg_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr                                        # 9.0.0 runs on it again
    r = subprocess.run([old_bin, "audit", "verify", "--full", "--config", str(cfg_path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    r = run_cli("rollback", "--root", str(root), "--config", str(cfg_path))   # nothing before 9.0.0
    assert r.returncode == 1 and "previous release is not installed" in r.stderr


def test_update_refuses_what_is_not_a_release(tmp_path):
    (tmp_path / "other-1.0-py3-none-any.whl").write_bytes(b"x")
    with pytest.raises(releases.ReleaseError, match="not a safety_appliance wheel"):
        releases.update(tmp_path / "other-1.0-py3-none-any.whl", tmp_path / "opt")
    with pytest.raises(releases.ReleaseError, match="exactly one"):
        releases.update(tmp_path, tmp_path / "opt")
    r = run_cli("rollback", "--root", str(tmp_path / "opt"), "--config", str(tmp_path / "none.toml"))
    assert r.returncode == 1 and "no update on record" in r.stderr


def test_data_commands_refuse_root_on_the_service_users_data(tmp_path):
    need(os.geteuid() == 0, "needs root (CI runs as root)")
    data = tmp_path / "data"
    cfg_path = write_config(data)
    nobody = pwd.getpwnam("nobody")
    os.chown(data, nobody.pw_uid, nobody.pw_gid)
    r = run_cli("create-user", "--login", "x", "--role", "admin", "--password-stdin", input="long-enough-9\n",
                env={"SAFETY_APPLIANCE_CONFIG": str(cfg_path)})
    assert r.returncode == 2
    command = r.stderr.splitlines()[-1].strip()        # absolute: sudo's PATH lacks the venv's bin folder
    assert re.fullmatch(rf"sudo -u nobody /\S+(/safety-appliance| -m appliance) create-user --login x --role admin "
                        rf"--password-stdin --config {re.escape(str(cfg_path))}", command), r.stderr
    assert not (data / "appliance.db").exists()                  # nothing root-owned was made
    os.chown(data, 0, 0)                                          # root's own data (a container): allowed
    r = run_cli("init-db", "--config", str(cfg_path))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("modules,extras", [
    ({"smartcard"}, "[pcsc]"),                 # what install.sh installs
    ({"smartcard", "dlib"}, "[pcsc,face]"),    # install.sh --face: the gate's face check
    ({"dlib"}, "[face]"),
    (set(), ""),
])
def test_an_update_installs_the_extras_the_running_release_has(modules, extras):
    """`update` builds the next release with the running one's extras: a box installed with --face keeps its
    face check, and PC/SC readers keep pyscard."""
    from appliance.core import releases

    assert releases.running_extras(has=lambda m: m in modules) == extras


def test_install_and_wheelhouse_offer_the_face_extra():
    """install.sh --face installs [pcsc,face] and refuses, naming the step, a wheelhouse without dlib;
    wheelhouse.sh --face builds the face extra's wheels for it."""
    install = (ROOT / "image_build" / "install.sh").read_text(encoding="utf-8")
    wheels = (ROOT / "image_build" / "wheelhouse.sh").read_text(encoding="utf-8")
    assert "--face) extras=pcsc,face ;;" in install and '"${stage}[$extras]"' in install
    assert "make it with image_build/wheelhouse.sh DIR --face" in install
    assert 'extras=pcsc,face' in wheels and '"$tmp/src[$extras]"' in wheels
    r = subprocess.run(["bash", str(ROOT / "image_build" / "install.sh"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--face" in r.stdout
    r = subprocess.run(["bash", str(ROOT / "image_build" / "wheelhouse.sh"), "--face"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage:" in r.stderr and "[--face]" in r.stderr
