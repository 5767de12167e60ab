"""Drivers speak to hardware and nothing else: they turn bytes into `Reading`s, `Tap`s and frames.

Here: the small interfaces and registry (`base.py`), one module per driver (modbus, serial_line, nfc,
pcsc, camera — added by the sensor, patrol and vision work) and `sim/`, the simulated plant peers that the
demo and the tests start. Not here: alarm logic, patrol rules or storage (those are `appliance/`).
Each external library has one owner here: only `drivers/modbus.py` imports pymodbus.
"""
