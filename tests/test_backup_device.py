"""Backups to a second device with the photos (issue 16): `backup --to DIR` writes the database and the media
files with a manifest of SHA-256 sums, keeps the newest N, and `restore DIR` puts a wiped box back end to end;
the scheduled job's `backup` health component treats a missing stick as a state."""
from __future__ import annotations

import io
import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image

from appliance.core import backup
from conftest import run_cli, write_config

SAME_DISK = "[backup]\nrequire_other_device = false\nkeep = 2\n"


def _jpeg(w: int, h: int, colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def plant_data(tmp_path):
    """A data directory with a hazard reported with a photo (through the API) and a training file."""
    from appliance.config import load_config
    from appliance.core import auth, db
    from appliance.domains import create_app
    from conftest import As

    cfg_path = write_config(tmp_path / "data", extra=SAME_DISK)
    cfg = load_config(cfg_path)
    app = create_app(cfg)
    app.config["TESTING"] = True
    users = {}
    for role in ("admin", "worker"):
        auth.create_user(auth.UserIn(login=f"u_{role}", password="correct-horse-9", role=role), actor="system:test")
        users[role] = f"u_{role}"
    admin, worker = As(app, "admin", users), As(app, "worker", users)
    area = admin.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区", "polygon": [[0, 0], [9, 0], [9, 9]]})
    r = worker.post("/api/v1/photos", data={"photo": (io.BytesIO(_jpeg(64, 48, (200, 30, 30))), "a.jpg")},
                    content_type="multipart/form-data")
    digest = r.get_json()["sha256"]
    r = worker.post("/api/v1/hazards", json={"area_id": area.get_json()["id"], "category": "电气",
                                             "description": "配电箱门未关", "photo": digest})
    assert r.status_code == 201, r.get_data(as_text=True)
    (cfg.storage.data_dir / "training" / "units").mkdir(parents=True)
    (cfg.storage.data_dir / "training" / "units" / "demo.pdf").write_bytes(b"%PDF-1.4 not really\n")
    db.database.close()
    photo = cfg.storage.data_dir / "photos" / f"{digest}.jpg"
    return {"config": cfg, "path": cfg_path, "digest": digest, "photo": photo.read_bytes(),
            "hazard": r.get_json()["id"]}


def test_backup_to_a_device_then_restore_a_wiped_box(plant_data, tmp_path):
    cfg, path = plant_data["config"], str(plant_data["path"])
    stick = tmp_path / "stick"
    stick.mkdir()
    t0 = time.monotonic()
    r = run_cli("backup", "--to", str(stick), "--config", path)
    assert r.returncode == 0, r.stderr
    took = time.monotonic() - t0
    [folder] = backup.complete_backups(stick)
    assert folder.name.startswith("safety-backup-test-1-")
    manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
    paths = {e["path"] for e in manifest["files"]}
    digest = plant_data["digest"]
    assert {"appliance.db", f"files/photos/{digest}.jpg", f"files/photos/{digest}.thumb.jpg",
            "files/training/units/demo.pdf"} <= paths
    assert not any("secret_key" in p or p.startswith("files/tls") for p in paths)   # no secrets on a stick
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    assert f"  files/photos/{digest}.jpg\n" in sums
    assert backup.verify(folder)["event_head"] == manifest["event_head"] > 0
    print(f"backup: {len(paths)} files, {sum(e['size'] for e in manifest['files'])} bytes, {took:.2f} s (CLI)")

    shutil.rmtree(cfg.storage.data_dir)                     # the SD card died: a fresh data directory
    cfg.storage.data_dir.mkdir()
    path = str(write_config(cfg.storage.data_dir, extra=SAME_DISK))
    r = run_cli("restore", str(folder), "--config", path)
    assert r.returncode == 0, r.stderr
    assert "files put back" in r.stdout
    assert (cfg.storage.data_dir / "photos" / f"{digest}.jpg").read_bytes() == plant_data["photo"]
    conn = sqlite3.connect(cfg.storage.db_path)
    try:
        desc, photo = conn.execute("SELECT description, photo FROM hazards WHERE id = ?",
                                   (plant_data["hazard"],)).fetchone()
    finally:
        conn.close()
    assert (desc, photo) == ("配电箱门未关", digest)
    r = run_cli("audit", "verify", "--full", "--config", path)
    assert r.returncode == 0 and "audit chain intact" in r.stdout, r.stdout + r.stderr


def test_keeps_the_newest_links_unchanged_photos_and_finds_damage(plant_data, tmp_path):
    cfg = plant_data["config"]
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "safety-backup-test-1-20000101T000000Z.partial").mkdir()    # a run cut off earlier
    first = backup.write(cfg, stick, keep=2, other_device=False)
    second = backup.write(cfg, stick, keep=2, other_device=False)   # the same second: a name of its own
    time.sleep(1.1)
    third = backup.write(cfg, stick, keep=2, other_device=False)
    assert [p.name for p in backup.complete_backups(stick)] == [Path(second["path"]).name, Path(third["path"]).name]
    assert first["path"] in third["pruned"] or first["path"] in second["pruned"] or not Path(first["path"]).exists()
    assert not list(stick.glob("*.partial"))
    rel = f"files/photos/{plant_data['digest']}.jpg"
    a, b = Path(second["path"]) / rel, Path(third["path"]) / rel
    assert a.stat().st_ino == b.stat().st_ino     # the same photo is linked, not written again (ext4/tmpfs)

    damaged = Path(third["path"]) / "files" / "training" / "units" / "demo.pdf"
    damaged.write_bytes(b"%PDF-1.4 changed!!!\n")
    with pytest.raises(backup.BackupError, match="files/training/units/demo.pdf"):
        backup.verify(Path(third["path"]))
    r = run_cli("restore", third["path"], "--config", str(plant_data["path"]))
    assert r.returncode == 1 and "demo.pdf" in r.stderr


def test_a_missing_stick_is_a_state_and_the_job_reports_it(plant_data, tmp_path):
    from appliance.config import load_config
    from appliance.core import db, jobs
    from appliance.core.web import Runtime

    stick = tmp_path / "media" / "usb"
    cfg = load_config(write_config(plant_data["config"].storage.data_dir,
                                   extra=f'[backup]\nto = "{stick}"\nrequire_other_device = false\n'))
    runtime = Runtime(cfg)
    db.open_database(cfg.storage.db_path)
    sched = jobs.build(cfg, runtime)
    try:
        assert sched.get_job("backup-device") is not None
        device = runtime.backups
        h = runtime.health_checks["backup"]()
        assert h["status"] == "degraded" and "missing" in h["reason"]
        assert device.run() is None                                   # the job itself: no exception
        assert "missing" in runtime.health_checks["backup"]()["reason"]

        stick.mkdir(parents=True)                                     # plugged in
        assert runtime.health_checks["backup"]()["reason"] == "no backup on the device yet"
        assert device.run() is not None
        h = runtime.health_checks["backup"]()
        assert h["status"] == "ok" and h["last_ok_at"] and h["last"]["files"] >= 4

        newest = backup.complete_backups(stick)[-1] / "MANIFEST.json"   # three days without a backup
        m = json.loads(newest.read_text(encoding="utf-8"))
        m["created_ms"] -= 3 * 86_400_000
        newest.write_text(json.dumps(m), encoding="utf-8")
        h = runtime.health_checks["backup"]()
        assert h["status"] == "degraded" and "old" in h["reason"]
    finally:
        db.database.close()

    same = load_config(write_config(plant_data["config"].storage.data_dir, extra=f'[backup]\nto = "{stick}"\n'))
    h = backup.DeviceBackups(same).health()        # the stick's empty mount point on the SD card itself
    assert h["status"] == "degraded" and "data disk" in h["reason"]


def test_backup_config_keys_are_named():
    from appliance.config import parse_config
    from appliance.core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_config('[backup]\nto = "media/usb"\nkeep = 0\n')
    assert sorted(d["key"] for d in e.value.details) == ["backup.keep", "backup.to"]
