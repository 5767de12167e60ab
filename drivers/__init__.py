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
from collections.abc import Callable, Iterable
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


def _unavailable(why: str) -> dict:
    return {"status": "fault", "reason": why}


def start_all(configs: Iterable[Any], sink: Callable[[Any], None], health_checks: dict[str, Callable[[], dict]],
              kind: str) -> Callable[[], None]:
    """Start one driver per config entry, each feeding `sink`, and add its health check as `<kind>:<name>`.
    A driver that cannot run here (a missing optional library) is a fault in its health check, logged once;
    the others start anyway. Returns the function that stops them all."""
    import logging

    from drivers.base import REGISTRY

    log = logging.getLogger(__name__)
    started = []
    for cfg in configs:
        cls = REGISTRY[cfg.type]
        why = cls.available()
        key = f"{kind}:{cfg.name}"
        if why:
            log.error("driver unavailable", extra={kind: cfg.name, "reason": why})
            health_checks[key] = functools.partial(_unavailable, why)
            continue
        driver = cls(cfg, sink)
        started.append(driver)
        health_checks[key] = driver.health
        driver.start()

    def stop() -> None:
        for driver in started:
            driver.stop()

    return stop
