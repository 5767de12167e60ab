-- 0001: the event log (the spine) and the core master data: site, areas, people, badges, users.
-- Times are UTC milliseconds since the epoch (INTEGER); ordering never depends on them, `seq` orders events.

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,          -- monotonic, gap-free; the SSE id and the sync cursor
    id           TEXT    NOT NULL UNIQUE,      -- UUID, stable across appliances and the cloud
    type         TEXT    NOT NULL,             -- e.g. person.created
    occurred_at  INTEGER NOT NULL,             -- when it happened (UTC ms; may come from a device)
    recorded_at  INTEGER NOT NULL,             -- when the appliance committed it (UTC ms)
    actor        TEXT    NOT NULL,             -- user:<login>, device:<name>, system
    entity_type  TEXT,
    entity_id    TEXT,
    payload      TEXT    NOT NULL,             -- canonical JSON
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL              -- sha256(prev_hash || canonical JSON of the event)
);
CREATE INDEX events_entity ON events(entity_type, entity_id);
CREATE INDEX events_type ON events(type);

-- Append-only: the application never updates or deletes an event. (The hash chain is what proves it;
-- these triggers stop accidents.)
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE site (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    name         TEXT    NOT NULL,
    name_en      TEXT    NOT NULL,
    timezone     TEXT    NOT NULL DEFAULT 'Asia/Shanghai',
    plan_width   INTEGER NOT NULL DEFAULT 1600,   -- floor-plan coordinate space (SVG viewBox)
    plan_height  INTEGER NOT NULL DEFAULT 900,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE areas (
    id           INTEGER PRIMARY KEY,
    code         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    name_en      TEXT    NOT NULL DEFAULT '',
    kind         TEXT    NOT NULL DEFAULT 'other',
    polygon      TEXT    NOT NULL DEFAULT '[]',    -- JSON [[x, y], ...] in floor-plan coordinates
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE people (
    id           INTEGER PRIMARY KEY,
    employee_no  TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('employee', 'contractor')),
    department   TEXT    NOT NULL DEFAULT '',
    job          TEXT    NOT NULL DEFAULT '',
    company      TEXT    NOT NULL DEFAULT '',      -- contractor's company
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE badges (
    id           INTEGER PRIMARY KEY,
    uid          TEXT    NOT NULL UNIQUE,          -- card UID, upper-case hex
    person_id    INTEGER NOT NULL REFERENCES people(id),
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX badges_person ON badges(person_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    login         TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'safety_officer', 'supervisor', 'worker', 'kiosk')),
    person_id     INTEGER REFERENCES people(id),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
