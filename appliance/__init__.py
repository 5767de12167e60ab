"""The plant safety appliance: domain rules, the event log, the database, the web app and the CLI.

Here: configuration (`config`), the SQLite database and migrations (`db`, `migrations/`), the event log and
bus (`events`), master data (`people`), users and roles (`auth`), the Flask app factory (`web`), the JSON API
(`api/`), health, the scheduler (`jobs`), start/stop order (`service`) and the CLI (`cli`). Not here: code
that talks to hardware (`drivers/`), machine-learning models (`models/`), pages (`kiosk_ui/`) or uplink
HTTP (`sync/`).
"""
__version__ = "0.1.0"
