"""The risk domain's plant settings ([risk] in the config file), checked once at start.

```toml
[risk]
shift_start = "08:00"          # the plant's shift change: 8 h shifts 08–16, 16–24, 00–08; 12 h shifts 08–20, 20–08

[risk.lec]                     # LEC cut-offs (D = L × E × C), GUIDE §3 / RULES.md §B.4; defaults are the classic
red_above = 320                # D > 320 重大 (极其危险)
orange_from = 160              # 160 ≤ D ≤ 320 较大 (高度危险)
yellow_from = 70               # 70 ≤ D < 160 一般 (显著危险)
acceptable_below = 20          # D < 20 稍有危险，可以接受 (still 低 / blue, marked acceptable)

[risk.ls.A]                    # LS profiles (R = L × S, 1..25): the lowest R of each level; A and B ship
major_from = 20
significant_from = 9
general_from = 4
```

Every cut-off must be positive and strictly decreasing from the most severe level down; a plant that uses
other cut-offs (e.g. 260/120/62/20) sets them here. Cut-offs grade new and re-assessed events; an event
already graded keeps the level it was given (its record says what was decided then).
"""
from __future__ import annotations

import re
from datetime import time

from pydantic import Field, field_validator, model_validator

from appliance.core.config import Section


class LecCutoffs(Section):
    red_above: float = Field(320, gt=0)
    orange_from: float = Field(160, gt=0)
    yellow_from: float = Field(70, gt=0)
    acceptable_below: float = Field(20, gt=0)

    @model_validator(mode="after")
    def _decreasing(self):
        if not self.red_above > self.orange_from > self.yellow_from > self.acceptable_below:
            raise ValueError("LEC cut-offs must decrease strictly: red_above > orange_from > yellow_from > "
                             f"acceptable_below (got {self.red_above:g} / {self.orange_from:g} / "
                             f"{self.yellow_from:g} / {self.acceptable_below:g})")
        return self


class LsCutoffs(Section):
    major_from: int = Field(ge=2, le=25)
    significant_from: int = Field(ge=2, le=25)
    general_from: int = Field(ge=2, le=25)

    @model_validator(mode="after")
    def _decreasing(self):
        if not self.major_from > self.significant_from > self.general_from:
            raise ValueError("LS cut-offs must decrease strictly: major_from > significant_from > general_from "
                             f"(got {self.major_from} / {self.significant_from} / {self.general_from})")
        return self


DEFAULT_LS = {"A": LsCutoffs(major_from=20, significant_from=9, general_from=4),
              "B": LsCutoffs(major_from=20, significant_from=10, general_from=4)}


class RiskConfig(Section):
    shift_start: str = Field("08:00", description="HH:MM, the plant's shift change time")
    lec: LecCutoffs = LecCutoffs()
    ls: dict[str, LsCutoffs] = Field(default_factory=dict)   # added to / overriding DEFAULT_LS

    @field_validator("shift_start")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        m = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", v)
        if m is None:
            raise ValueError(f"shift_start must be HH:MM (00:00–23:59), not {v!r}")
        return v

    @field_validator("ls")
    @classmethod
    def _names(cls, v: dict[str, LsCutoffs]) -> dict[str, LsCutoffs]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", name):
                raise ValueError(f"LS profile name {name!r} may hold only letters, digits, - and _ (20 at most)")
        return v

    @property
    def shift_time(self) -> time:
        h, m = self.shift_start.split(":")
        return time(int(h), int(m))

    @property
    def ls_profiles(self) -> dict[str, LsCutoffs]:
        return {**DEFAULT_LS, **self.ls}
