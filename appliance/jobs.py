"""The scheduler: APScheduler 3 with the in-memory job store, rebuilt from config and the database at
every start (no pickled job state to break across upgrades). Later modules add their jobs in `build`.
"""
from __future__ import annotations

import logging
import time

from apscheduler.schedulers.background import BackgroundScheduler

from . import db
from .config import Config

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def scheduled_backup(config: Config) -> str:
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


def _soon():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def build(config: Config, sensors=None) -> BackgroundScheduler:
    s = BackgroundScheduler(timezone=config.site.timezone, job_defaults=JOB_DEFAULTS)
    if sensors is not None and config.points:
        # stale values, expired shelving and finished minutes; a missed second is simply skipped
        s.add_job(sensors.tick, "interval", seconds=1, id="sensors-tick", name="sensor tick",
                  replace_existing=True, misfire_grace_time=1)
        s.add_job(sensors.escalate, "interval", seconds=15, args=[config.alarms.escalate_after_min],
                  id="alarm-escalation", name="escalate unacknowledged alarms", replace_existing=True)
        s.add_job(sensors.prune, "cron", hour=config.storage.backup_hour, minute=47,
                  args=[config.storage.readings_keep_days, config.storage.minutes_keep_days],
                  id="telemetry-retention", name="telemetry retention", replace_existing=True)
    s.add_job(scheduled_backup, "cron", hour=config.storage.backup_hour, minute=17, args=[config],
              id="backup", name="nightly backup", replace_existing=True)
    s.add_job(checkpoint_wal, "interval", minutes=30, id="wal-checkpoint", name="WAL checkpoint",
              replace_existing=True)
    from . import violations

    # raw frames of reviewed PPE violations, and the false-positive training set under its cap
    s.add_job(violations.prune_evidence, "cron", hour=config.storage.backup_hour, minute=52,
              args=[config.storage.data_dir, config.vision.frames_keep_days, config.vision.false_positives_max_mb],
              id="vision-evidence", name="vision evidence retention", replace_existing=True)
    from .hazards import chase_deadlines

    s.add_job(chase_deadlines, "interval", minutes=5, id="hazard-deadlines", name="hazard reminders and escalation",
              replace_existing=True)
    from . import patrol

    # rounds are scheduled a day ahead and closed (judged) once their window and grace are over
    s.add_job(patrol.tick, "interval", seconds=30, id="patrol-rounds", name="patrol rounds",
              replace_existing=True, next_run_time=_soon())
    from . import control_tasks

    # one task per control measure per check cycle; reminders before the period ends; 未排查 after it
    s.add_job(control_tasks.tick, "interval", seconds=60, id="control-tasks", name="control tasks",
              replace_existing=True, next_run_time=_soon())
    return s


def health(s: BackgroundScheduler) -> dict:
    if not s.running:
        return {"status": "fault", "reason": "scheduler is not running"}
    jobs = [{"id": j.id, "next_run": j.next_run_time.isoformat() if j.next_run_time else None} for j in s.get_jobs()]
    return {"status": "ok", "jobs": jobs}
