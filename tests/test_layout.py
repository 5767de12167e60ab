"""The repository carries the product's shape: each top-level folder says what lives there; the systemd
unit is accepted by systemd-analyze; the demo plant seeds once and keeps its credentials."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ROOT, need

FOLDERS = ("appliance", "drivers", "models", "kiosk_ui", "sync", "satellite", "systemd", "image_build", "tests", "bench")


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folder_says_what_lives_there(folder):
    d = ROOT / folder
    readme, init = d / "README.md", d / "__init__.py"
    text = readme.read_text(encoding="utf-8") if readme.exists() else init.read_text(encoding="utf-8")
    assert len(text) > 80


def test_systemd_unit_verifies(tmp_path):
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian package systemd)")
    unit = (ROOT / "systemd" / "safety-appliance.service").read_text(encoding="utf-8")
    assert "Type=notify" in unit and "WatchdogSec=" in unit and "Restart=" in unit and "ProtectSystem=strict" in unit
    # point the unit at this checkout's virtualenv instead of the box's /opt install
    exe = ROOT / ".venv" / "bin" / "safety-appliance"
    need(exe.exists(), "the project virtualenv (make test creates it)")
    local = tmp_path / "safety-appliance.service"
    local.write_text(unit.replace("/opt/safety-appliance/current/bin/safety-appliance", str(exe)), encoding="utf-8")
    r = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    problems = [l for l in r.stderr.splitlines() if "safety-appliance.service" in l]
    assert r.returncode == 0 and not problems, r.stderr


def test_demo_plant_seeds_once(tmp_path):
    from appliance import demo
    from appliance.core import auth, db
    from appliance.core import people as P

    config, creds = demo.prepare(tmp_path / "plant", port=0, host="127.0.0.1")
    assert (config.storage.data_dir / "appliance.toml").exists()
    assert {a.name for a in P.Area.select()} == {"储罐区", "反应车间", "仓库", "装卸站台", "中控室", "大门"}
    assert P.Person.select().count() == len(demo.PEOPLE) and P.Badge.select().count() == len(demo.PEOPLE)
    assert P.person_for_badge("04A1B2C3D4E5F6").name == "张伟"
    assert set(creds["users"]) == {"admin", "zhangwei", "wangfang", "liuyang"} and creds["kiosk_token"]
    assert auth.authenticate("admin", creds["users"]["admin"]["password"]) is not None
    mode = (config.storage.data_dir / "demo-credentials.json").stat().st_mode & 0o777
    assert mode == 0o600
    db.database.close()
    config2, creds2 = demo.prepare(tmp_path / "plant", port=0, host="127.0.0.1")
    assert creds2 == creds and P.Person.select().count() == len(demo.PEOPLE)
    db.database.close()
