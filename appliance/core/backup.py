"""Backups to a second device (a USB stick, a network share): the database and the files it refers to.

`write(config, to)` makes one folder `<to>/safety-backup-<appliance id>-<UTC time>/` holding a consistent
copy of the database (SQLite's online backup), the photos, training media and vision snapshots (`MEDIA_DIRS`
under the data directory), and `MANIFEST.json` with each file's size and SHA-256 (also as `SHA256SUMS`, for
`sha256sum -c` on any PC). It is written as `<name>.partial` and renamed when whole, so a stick pulled out
half-way leaves no folder that looks complete. The database is copied first: every file a row refers to was
written before that row, so it is already there when the files are copied. Photos are stored by their
SHA-256 and never change, so a file the previous backup on the same device already holds is hard-linked
when the file system allows it (ext4, a Samba share) and copied otherwise (FAT/exFAT sticks). The newest
`keep` backups are kept.

Left out on purpose: the session key and the TLS private keys (a lost stick must not let anyone pose as the
appliance; a restored box makes new ones, tablets log in again and install its CA again), and the local
backups folder. `restore(folder, ...)` checks every file against the manifest, restores the database (its
integrity and the event log's chain checked) and puts the files back.

A scheduled job (`scheduled`) runs it when `[backup] to` is set and records the `backup` health component: a
missing or full device is a degraded state with its reason, never an exception out of the scheduler.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.core import db
from appliance.core.errors import ApplianceError

log = logging.getLogger(__name__)

MEDIA_DIRS = ("photos", "training", "vision")
PREFIX = "safety-backup-"
MANIFEST = "MANIFEST.json"
FORMAT = 1
CHUNK = 1024 * 1024


class BackupError(ApplianceError):
    """A backup to a second device could not be written, or one read back is not whole."""

    code = "backup_failed"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def media_files(data_dir: Path) -> list[Path]:
    """Every file under the media folders, as paths relative to the data directory (temp files left out)."""
    out = []
    for name in MEDIA_DIRS:
        root = data_dir / name
        if root.is_dir():
            out += [p.relative_to(data_dir) for p in root.rglob("*")
                    if p.is_file() and not p.name.endswith((".tmp", ".partial"))]
    return sorted(out)


def complete_backups(to: Path) -> list[Path]:
    """The whole backups in `to`, oldest first."""
    if not to.is_dir():
        return []
    return sorted(p for p in to.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
                  and not p.name.endswith(".partial") and (p / MANIFEST).is_file())


def check_target(to: Path, data_dir: Path, other_device: bool) -> None:
    """BackupError unless `to` is there, writable and (when `other_device`) not on the data directory's disk:
    an unplugged stick leaves its empty mount point on the SD card, and a backup there is no backup."""
    if not to.is_dir():
        raise BackupError(f"备份目标不存在（U 盘未插入或未挂载？）：{to}",
                          f"backup target is missing (stick not plugged in or not mounted?): {to}", code="backup_target_missing")
    if other_device and to.stat().st_dev == Path(data_dir).stat().st_dev:
        raise BackupError(f"备份目标与数据在同一磁盘上（U 盘未挂载？）：{to}",
                          f"backup target is on the data disk itself (stick not mounted?): {to}",
                          code="backup_target_missing")
    if not os.access(to, os.W_OK):
        raise BackupError(f"备份目标不可写：{to}", f"backup target is not writable: {to}", code="backup_target_readonly")


def _place(src: Path, dest: Path, previous: Path | None) -> None:
    """Hard-link `dest` to the previous backup's copy of the same bytes when possible, else copy `src`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if previous is not None:
        try:
            os.link(previous, dest)
            return
        except OSError:
            pass   # FAT/exFAT, or another file system: copy
    shutil.copyfile(src, dest)


def _previous_sums(prev: Path | None) -> dict[str, str]:
    if prev is None:
        return {}
    try:
        return {e["path"]: e["sha256"] for e in json.loads((prev / MANIFEST).read_text(encoding="utf-8"))["files"]}
    except (OSError, ValueError, KeyError):
        return {}


def write(config, to: Path, keep: int, other_device: bool = True) -> dict:
    """One backup of the database and the media files into `to`; returns its summary (path, files, bytes,
    seconds, pruned). BackupError when the target is missing, read-only or full."""
    t0 = time.monotonic()
    data_dir = config.storage.data_dir
    to = Path(to)
    check_target(to, data_dir, other_device)
    files = media_files(data_dir)
    found = complete_backups(to)
    prev = found[-1] if found else None
    need = config.storage.db_path.stat().st_size + sum((data_dir / f).stat().st_size for f in files)
    free = shutil.disk_usage(to).free
    if free < need + 16 * 1024 * 1024:
        raise BackupError(f"备份目标空间不足：需要 {need // 2**20} MB，剩余 {free // 2**20} MB（{to}）",
                          f"backup target is full: {need // 2**20} MB needed, {free // 2**20} MB free ({to})",
                          code="backup_target_full")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"{PREFIX}{config.site.appliance_id}-{stamp}"
    n = 1
    while (to / name).exists():   # a second run within the same second
        n += 1
        name = f"{PREFIX}{config.site.appliance_id}-{stamp}-{n}"
    final, work = to / name, to / f"{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        db.backup(config.storage.db_path, work / "appliance.db")
        entries = [{"path": "appliance.db", "size": (work / "appliance.db").stat().st_size,
                    "sha256": _sha256(work / "appliance.db")}]
        before = _previous_sums(prev)
        for rel in files:
            src, dest, path = data_dir / rel, work / "files" / rel, f"files/{rel.as_posix()}"
            try:
                digest = _sha256(src)
                _place(src, dest, prev / path if prev is not None and before.get(path) == digest else None)
            except FileNotFoundError:
                continue   # pruned (an old vision frame) between the listing and the copy
            entries.append({"path": path, "size": dest.stat().st_size, "sha256": digest})
        conn = sqlite3.connect(f"file:{work / 'appliance.db'}?mode=ro", uri=True)
        try:
            schema = conn.execute("PRAGMA user_version").fetchone()[0]
            head = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        finally:
            conn.close()
        manifest = {"format": FORMAT, "appliance_id": config.site.appliance_id, "created_at": stamp,
                    "created_ms": int(time.time() * 1000), "schema_version": schema, "event_head": head,
                    "files": entries}
        (work / "SHA256SUMS").write_text("".join(f"{e['sha256']}  {e['path']}\n" for e in entries), encoding="utf-8")
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        _sync_tree(work)
        os.replace(work, final)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise BackupError(f"写入备份失败：{exc}", f"writing the backup failed: {exc}",
                          code="backup_target_full" if exc.errno == 28 else "backup_failed") from None
    pruned = prune(to, keep)
    return {"path": str(final), "files": len(entries), "bytes": sum(e["size"] for e in entries),
            "seconds": round(time.monotonic() - t0, 3), "pruned": [str(p) for p in pruned], "event_head": head}


def _sync_tree(root: Path) -> None:
    """fsync every file and folder: a stick pulled out right after must hold what the manifest says."""
    for p in sorted(root.rglob("*"), reverse=True) + [root]:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError:
            pass   # some file systems (a network share) refuse fsync on a folder
        finally:
            os.close(fd)


def prune(to: Path, keep: int) -> list[Path]:
    """Keep the newest `keep` whole backups; also remove half-written ones left by an interrupted run."""
    doomed = complete_backups(to)[:-keep] if keep > 0 else []
    doomed += [p for p in to.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and p.name.endswith(".partial")]
    for p in doomed:
        shutil.rmtree(p, ignore_errors=True)
    return doomed


def verify(folder: Path) -> dict:
    """The manifest of a whole backup whose every file is there with its size and SHA-256; BackupError naming
    the first file that is not."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"备份清单不可读：{folder / MANIFEST}（{exc}）", f"backup manifest unreadable: {folder / MANIFEST} ({exc})") from None
    for e in manifest["files"]:
        p = folder / e["path"]
        if ".." in Path(e["path"]).parts or Path(e["path"]).is_absolute():
            raise BackupError(f"备份清单中的路径无效：{e['path']}", f"bad path in the backup manifest: {e['path']}")
        if not p.is_file() or p.stat().st_size != e["size"] or _sha256(p) != e["sha256"]:
            raise BackupError(f"备份文件缺失或已损坏：{e['path']}", f"backup file missing or damaged: {e['path']}",
                              code="backup_damaged")
    return manifest


def restore(folder: Path, config, verify_log: Callable[[sqlite3.Connection], object]) -> dict:
    """Put a backup folder back: every file checked against the manifest first, then the database (kept
    copy of the current one in the local backups folder, as `db.restore` does) and the media files."""
    folder = Path(folder)
    manifest = verify(folder)
    store = config.storage
    store.data_dir.mkdir(parents=True, exist_ok=True)
    kept = db.restore(folder / "appliance.db", store.db_path, store.backup_dir, verify_log)
    n = 0
    for e in manifest["files"]:
        if not e["path"].startswith("files/"):
            continue
        dest = store.data_dir / e["path"][len("files/"):]
        if dest.is_file() and dest.stat().st_size == e["size"] and _sha256(dest) == e["sha256"]:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        shutil.copyfile(folder / e["path"], tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        n += 1
    return {"kept": str(kept) if kept else None, "files_restored": n, "event_head": manifest["event_head"],
            "schema_version": manifest["schema_version"], "created_at": manifest["created_at"]}


class DeviceBackups:
    """The scheduled backup to `[backup] to` and its `backup` health component."""

    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.last_error: str | None = None
        self.last_error_code: str | None = None
        self.last_error_at: int | None = None
        self.last: dict | None = None

    def run(self) -> dict | None:
        b = self.config.backup
        with self.lock:
            try:
                self.last = write(self.config, b.to, b.keep, b.require_other_device)
                self.last_error = self.last_error_code = None
                log.info("backup to device written", extra=self.last)
                return self.last
            except (BackupError, OSError, db.DatabaseError) as exc:
                self.last_error = exc.en if isinstance(exc, ApplianceError) else str(exc)
                self.last_error_code = exc.code if isinstance(exc, ApplianceError) else "backup_failed"
                self.last_error_at = int(time.time() * 1000)
                log.warning("backup to device failed", extra={"error": self.last_error, "to": str(b.to)})
                return None

    def last_ok_ms(self) -> int | None:
        """When the newest whole backup on the device was made (read from its manifest, so it survives a
        restart), or None."""
        try:
            found = complete_backups(Path(self.config.backup.to))
            if not found:
                return None
            return int(json.loads((found[-1] / MANIFEST).read_text(encoding="utf-8"))["created_ms"])
        except (OSError, ValueError, KeyError):
            return None

    def health(self) -> dict:
        b = self.config.backup
        out: dict = {"status": "ok", "to": str(b.to)}
        try:
            check_target(Path(b.to), self.config.storage.data_dir, b.require_other_device)
        except BackupError as exc:
            return {**out, "status": "degraded", "reason": exc.en}
        last = self.last_ok_ms()
        out["last_ok_at"] = last
        age_h = (time.time() * 1000 - last) / 3_600_000 if last else None
        if self.last_error and self.last_error_code != "backup_target_missing":   # plugged in since: not a failure now
            out.update(status="degraded", reason=f"last backup failed: {self.last_error}")
        elif last is None:
            out.update(status="degraded", reason="no backup on the device yet")
        elif age_h is not None and age_h > b.max_age_hours:
            out.update(status="degraded", reason=f"the newest backup is {age_h:.0f} h old (limit {b.max_age_hours} h)")
        if self.last:
            out["last"] = {k: self.last[k] for k in ("path", "files", "bytes", "seconds")}
        return out
