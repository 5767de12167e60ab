"""[contractors]: which badge readers are the plant's gate, and the plant's contractor settings.

    [contractors]
    entry_readers = ["GATE"]        # a tap here is an entry decision (allowed / refused, shown at the gate)
    exit_readers = ["GATE-OUT"]     # a tap here records leaving (people on site per firm)
    entry_training_days = 365       # 入厂安全教育 repeated after this many days [U]
    expiring_days = 30              # a document this close to expiry makes the firm "expiring"
    required_documents = ["business_licence", "safety_licence", "qualification", "insurance"]
    face_check = false              # the optional face check (needs the `face` extra: dlib-bin, face-recognition-models)
    face_cameras = { GATE = "CAM-GATE" }   # which camera looks at each gate reader's badge holder
    face_max_distance = 0.6         # descriptor distance above which the face does not match [dlib]
    face_min_px = 80                # a face narrower than this is not used (enrolment refused, gate: guard)

Any configured reader (or a satellite station's) can be a gate; a reader may not be both entry and exit.
"""
from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from appliance.contractors import rules as R
from appliance.core.config import Section

_READER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class ContractorsConfig(Section):
    """[contractors]: gate readers, entry-training validity, the documents a firm must hold."""

    entry_readers: list[str] = Field(default_factory=list, max_length=20)
    exit_readers: list[str] = Field(default_factory=list, max_length=20)
    entry_training_days: int = Field(R.ENTRY_TRAINING_DAYS, ge=1, le=3 * 365)
    expiring_days: int = Field(R.EXPIRING_DAYS, ge=0, le=180)
    required_documents: list[str] = Field(default_factory=lambda: list(R.REQUIRED_DOCS), max_length=len(R.DOC_KINDS))
    # the optional face check (off by default): at a gate reader named here with a camera, an entry the badge
    # allows is compared with the worker's face template, for workers who consented and were enrolled; a
    # mismatch, or no face seen, refuses with "a guard must check" (appliance/contractors/face.py)
    face_check: bool = False
    face_cameras: dict[str, str] = Field(default_factory=dict)        # gate reader → camera name ([[cameras]])
    face_max_distance: float = Field(R.FACE_MAX_DISTANCE, gt=0, le=1.2)
    face_min_px: int = Field(R.FACE_MIN_PX, ge=40, le=1000)

    @field_validator("face_cameras")
    @classmethod
    def _cameras(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        for reader in v:
            if not re.fullmatch(_READER, reader):
                raise ValueError(f"face_cameras: {reader!r} is not a reader name")
        return v

    @field_validator("entry_readers", "exit_readers")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        import re

        for name in v:
            if not re.fullmatch(_READER, name):
                raise ValueError(f"{name!r} is not a reader name")
        if len(set(v)) != len(v):
            raise ValueError("a reader is listed twice")
        return v

    @field_validator("required_documents")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in R.DOC_KINDS]
        if bad:
            raise ValueError(f"unknown document kind {bad[0]!r} (one of {', '.join(R.DOC_KINDS)})")
        return v

    @model_validator(mode="after")
    def _entry_or_exit(self):
        both = set(self.entry_readers) & set(self.exit_readers)
        if both:
            raise ValueError(f"reader {sorted(both)[0]!r} is both an entry and an exit reader")
        stray = [r for r in self.face_cameras if r not in self.entry_readers]
        if stray:
            raise ValueError(f"face_cameras: {stray[0]!r} is not one of entry_readers")
        return self


_configured: ContractorsConfig | None = None


def configure(cfg: ContractorsConfig | None) -> None:
    """Use `cfg` outside requests (the bus thread deciding gate taps)."""
    global _configured
    _configured = cfg


def current() -> ContractorsConfig:
    """The settings in force: the running app's inside a request, else what the service configured."""
    from flask import current_app, has_app_context

    if has_app_context():
        cfg = getattr(current_app.config.get("APPLIANCE"), "contractors", None)
        if isinstance(cfg, ContractorsConfig):
            return cfg
    return _configured or ContractorsConfig()
