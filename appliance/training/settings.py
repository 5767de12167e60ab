"""The plant's [training] settings in force: the running app's config inside a request, else what the
service configured at start (the scheduler's jobs), else the defaults."""
from __future__ import annotations

from appliance.training.config import TrainingConfig

_configured: TrainingConfig | None = None


def configure(cfg: TrainingConfig | None) -> None:
    """Use `cfg` outside requests (called when the app is built and when the jobs are)."""
    global _configured
    _configured = cfg


def current() -> TrainingConfig:
    from flask import current_app, has_app_context

    if has_app_context():
        cfg = getattr(current_app.config.get("APPLIANCE"), "training", None)
        if isinstance(cfg, TrainingConfig):
            return cfg
    return _configured or TrainingConfig()
