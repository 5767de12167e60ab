"""Drivers speak to hardware and nothing else: they turn bytes into `Reading`s, `Tap`s and frames.

Here: the small interfaces, the value types (`Reading`, `Tap`, the badge UID rule) and the registry
(`base.py`); one module per driver (modbus, serial_line, nfc, pcsc, camera_file, camera_opencv,
camera_picamera2), each registering itself, found by `load_all()` and chosen by the config's `type`;
shared code that is not a driver (`registers.py` for Modbus decoding, `reader.py` for what the badge
readers share: debounce and the reconnect loop, `camera.py` for the camera loop) and `sim/`, the simulated plant peers (Modbus server, virtual
PC/SC card, emulated NFC badge; `sim/badges.py` drives them) that the demo and the tests start.
Not here: alarm logic, patrol rules or storage (those are `appliance/`).
Each external library has one owner here: only `drivers/modbus.py` imports pymodbus, only `drivers/pcsc.py`
pyscard, only `drivers/nfc.py` (and its emulator `sim/nfc_tag.py`) nfcpy.
"""
from __future__ import annotations

import functools
import importlib
import operator
import pkgutil
from typing import Annotated, Any

from pydantic import Field

_SKIP = {"base", "registers", "reader", "camera"}  # shared code, not drivers


def load_all() -> None:
    """Import every driver module of this package, so each registers itself (`base.register`). A new
    driver is one new module here: nothing else lists it."""
    for m in pkgutil.iter_modules(__path__):
        if not m.ispkg and m.name not in _SKIP:
            importlib.import_module(f"{__name__}.{m.name}")


def config_union(kind: str) -> Any:
    """The config model of every registered driver of `kind` ("bus", "reader", "camera"), chosen by the
    `type` key: the type of a config list such as `[[buses]]`."""
    from drivers.base import REGISTRY

    load_all()
    models = list(dict.fromkeys(cls.Config for cls in REGISTRY.values() if cls.kind == kind))
    if len(models) == 1:
        return Annotated[models[0], Field(discriminator="type")]
    return Annotated[functools.reduce(operator.or_, models), Field(discriminator="type")]
