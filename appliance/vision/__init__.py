"""PPE vision: the supervised vision process (`supervisor`) running the detector on camera frames
(`worker`), its debounce and zone rules (`rules`), and the violations with their evidence (`violations`)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain, NavLink


def _start(runtime):
    """The vision process, supervised, when cameras are configured (health: `vision`, `camera:<name>`)."""
    cfg = runtime.config
    if not cfg.cameras:
        return None
    from appliance.vision.supervisor import VisionSupervisor

    vision = runtime.vision = VisionSupervisor(cfg).start()
    runtime.health_checks["vision"] = vision.health
    for cam in cfg.cameras:
        runtime.health_checks[f"camera:{cam.name}"] = lambda n=cam.name: vision.camera_health(n)
    return vision.stop


def _jobs(s, config, runtime) -> None:
    from appliance.vision import violations

    # raw frames of reviewed PPE violations, and the false-positive training set under its cap
    s.add_job(violations.prune_evidence, "cron", hour=config.storage.backup_hour, minute=52,
              args=[config.storage.data_dir, config.vision.frames_keep_days, config.vision.false_positives_max_mb],
              id="vision-evidence", name="vision evidence retention", replace_existing=True)


def domain() -> Domain:
    from appliance.vision import api, pages

    return Domain(name="vision", blueprints=[api.api_bp, pages.bp], start=_start, jobs=_jobs,
                  i18n=Path(__file__).parent / "i18n",
                  nav=[NavLink("vision_pages.tablet", "nav.violations", order=40)],
                  openapi=Path(__file__).parent / "openapi.json",
                  safety_events=("ppe.", "vision."))
