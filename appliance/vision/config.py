"""[vision]: the PPE detector ([vision.model], models/config.py) and the supervised vision process."""
from __future__ import annotations

from pydantic import Field

from appliance.core.config import Section
from models.config import VisionModelConfig


class VisionConfig(Section):
    """[vision]: the PPE detector ([vision.model], models/config.py) and the supervised vision process."""

    model: VisionModelConfig = VisionModelConfig()
    stall_s: float = Field(20.0, ge=2, le=600)  # no heartbeat for this long: killed and restarted
    restart_max_s: float = Field(30.0, ge=1, le=3600)  # back-off ceiling between restarts
    niceness: int = Field(10, ge=0, le=19)      # CPU-bound: yields to the web and the pollers
    display_fps: float = Field(3.0, gt=0, le=15)  # annotated frames for the board's camera tiles
    # Evidence retention (vision/violations.py prune_evidence): raw frames of reviewed violations, and the
    # disk held by rejected ones kept as training examples. Snapshots (hazard photos) are not pruned.
    frames_keep_days: int = Field(7, ge=0, le=3650)
    false_positives_max_mb: int = Field(500, ge=1, le=100_000)
