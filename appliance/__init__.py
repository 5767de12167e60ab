"""The plant safety appliance: a small core and one package per domain.

`core/` holds what every domain stands on (config basics, the database and migrations, the event log and
bus, master data, users and permissions, the web app factory, the scheduler, health, discovery); each
domain package (`gas/`, `hazards/`, `risk/`, `patrol/`, `stations/`, `vision/`) holds its rules, storage,
API, jobs and permissions and registers them with the core. `domains.py` lists the enabled domains;
`config.py` assembles the config file's model; `service.py` starts and stops them; `cli.py` is the
command line. Not here: hardware (`drivers/`), machine-learning models (`models/`), the shared pages
(`kiosk_ui/`), uplink sync (`sync/`) and the satellite reader station program (`satellite/`).
See docs/ARCHITECTURE.md.
"""
__version__ = "0.1.0"
