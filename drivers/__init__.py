"""Drivers speak to hardware and nothing else: they turn bytes into `Reading`s, `Tap`s and frames.

Here: the small interfaces and registry (`base.py`), one module per driver (modbus, serial_line, nfc,
pcsc, camera — added by the sensor, patrol and vision work), `reader.py` (what the badge readers share:
the UID rule, debounce, the reconnect loop) and `sim/`, the simulated plant peers (Modbus server, virtual
PC/SC card, emulated NFC badge; `sim/badges.py` drives them) that the demo and the tests start.
Not here: alarm logic, patrol rules or storage (those are `appliance/`).
Each external library has one owner here: only `drivers/modbus.py` imports pymodbus, only `drivers/pcsc.py`
pyscard, only `drivers/nfc.py` (and its emulator `sim/nfc_tag.py`) nfcpy.
"""
