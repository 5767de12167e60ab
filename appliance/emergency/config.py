"""[emergency]: the plant's emergency settings — the weather sensor point whose reading gives the wind
direction for an incident draft when nobody has typed one in, followed while the incident is open. The point itself is an ordinary [[points]]
entry (gas = "WD", degrees the wind blows FROM, 0 = north); the whole config checks that it exists and is
a wind-direction point (appliance/config.py), so a typo fails at start, not at the first leak.
"""
from __future__ import annotations

from pydantic import Field

from appliance.core.config import Section

WIND_GAS = "WD"   # appliance.gas.gases: wind direction, degrees


class EmergencyConfig(Section):
    """[emergency]: the optional wind-direction point, and how long a new wind must hold before an open
    incident is redrawn for it (rules.WIND_SUSTAIN_S by default: a gust does not flip the plan)."""

    wind_point: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    wind_sustain_s: float = Field(30, ge=0, le=600)
