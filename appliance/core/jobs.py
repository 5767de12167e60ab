"""The scheduler: APScheduler 3 with the in-memory job store, rebuilt from config and the database at
every start (no pickled job state to break across upgrades). Each domain adds its jobs (`Domain.jobs`).
"""
from __future__ import annotations

import logging
import time

from apscheduler.schedulers.background import BackgroundScheduler

from appliance.core import auth, backup, db, idempotency, memory, tls
from appliance.core.domain import registered

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def scheduled_backup(config) -> str:
    """Nightly backup with the online backup API, keeping the newest `storage.backup_keep`."""
    store = config.storage
    dest = store.backup_dir / f"backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.db"
    db.backup(store.db_path, dest)
    removed = db.prune_backups(store.backup_dir, store.backup_keep)
    log.info("backup written", extra={"backup": str(dest), "pruned": len(removed)})
    return str(dest)


def checkpoint_wal() -> None:
    """Fold the WAL back into the database so it does not grow without bound on a busy day."""
    db.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def refresh_certificate(config, runtime) -> str | None:
    """Make the HTTPS certificate again when the box's LAN addresses changed (or it nears its end), and have
    the running terminator load it; returns why, or None when nothing changed."""
    paths = tls.paths_for(config)
    reason = tls.ensure(paths, *tls.lan_names(config), f"Safety appliance CA ({config.site.appliance_id})")
    if reason is not None and runtime.https is not None:
        runtime.https.reload()
    return reason


def build(config, runtime) -> BackgroundScheduler:
    """The core's jobs (backup, WAL checkpoint) and every registered domain's."""
    s = BackgroundScheduler(timezone=config.site.timezone, job_defaults=JOB_DEFAULTS)
    s.add_job(scheduled_backup, "cron", hour=config.storage.backup_hour, minute=17, args=[config],
              id="backup", name="nightly backup", replace_existing=True)
    s.add_job(checkpoint_wal, "interval", minutes=30, id="wal-checkpoint", name="WAL checkpoint",
              replace_existing=True)
    s.add_job(auth.token_use.flush, "interval", minutes=1, id="token-use", name="device tokens' last use",
              replace_existing=True)
    s.add_job(memory.trim, "interval", seconds=30, id="memory-trim", name="give freed heap pages back",
              replace_existing=True)
    s.add_job(idempotency.prune, "interval", hours=1, id="idempotency-prune",
              name="forget idempotency keys older than 24 h", replace_existing=True)
    if config.backup.to is not None:
        device = backup.DeviceBackups(config)
        s.add_job(device.run, "cron", hour=config.backup.hour, minute=37, id="backup-device",
                  name="backup to a second device", replace_existing=True)
        runtime.health_checks["backup"] = device.health
        runtime.backups = device
    if config.web.tls and tls.paths_for(config).managed:
        s.add_job(refresh_certificate, "interval", minutes=5, args=[config, runtime], id="tls-refresh",
                  name="HTTPS certificate for the LAN addresses", replace_existing=True)
    for d in registered():
        if d.jobs is not None:
            d.jobs(s, config, runtime)
    return s


def health(s: BackgroundScheduler) -> dict:
    if not s.running:
        return {"status": "fault", "reason": "scheduler is not running"}
    jobs = [{"id": j.id, "next_run": j.next_run_time.isoformat() if j.next_run_time else None} for j in s.get_jobs()]
    return {"status": "ok", "jobs": jobs}
