"""The core every domain stands on: config basics (`config`), SQLite and migrations (`db`, `migrations/`),
the event log, its hash chain and the live bus (`events`), master data (`people`), users, roles and
permissions (`auth`), who is asking at the HTTP edge (`access`), the Flask app factory (`web`) and the
core's own API (`routes`, `admin_api`, `masterdata_api`), the scheduler (`jobs`), health, mDNS
(`discovery`), systemd notify, photos by SHA-256, spreadsheets, and the registry through which domains
plug in (`domain`). The core never imports a domain.
"""
