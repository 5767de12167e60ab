-- 0003: gas and environment telemetry, alarm occurrences and shelving.
-- Points themselves are configuration (appliance.toml [[points]]); rows refer to them by id.

-- A reading is stored when it moves beyond the point's record deadband or changes state (an SD card
-- does not survive storing every poll), plus a heartbeat every 15 minutes so trends have no holes.
CREATE TABLE readings (
    point  TEXT    NOT NULL,
    at     INTEGER NOT NULL,            -- UTC ms
    value  REAL,                        -- NULL when the reading was bad
    state  TEXT    NOT NULL             -- normal | alarm1 | alarm2 | fault
);
CREATE INDEX readings_point_at ON readings(point, at);

-- Per-minute min / avg / max of good values, for the 24 h and 7 d trends.
CREATE TABLE reading_minutes (
    point   TEXT    NOT NULL,
    minute  INTEGER NOT NULL,           -- UTC ms at the start of the minute
    min     REAL    NOT NULL,
    avg     REAL    NOT NULL,
    max     REAL    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (point, minute)
) WITHOUT ROWID;

-- One row per alarm occurrence: raised, (escalated), cleared, acknowledged. Closed when cleared and acked.
CREATE TABLE alarms (
    id          INTEGER PRIMARY KEY,
    point       TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('gas', 'fault')),
    level       INTEGER NOT NULL,       -- highest level reached (gas); 0 for a fault
    reason      TEXT,                   -- fault reason
    value       REAL,                   -- value when raised
    raised_at   INTEGER NOT NULL,
    cleared_at  INTEGER,
    acked_at    INTEGER,
    acked_by    TEXT,
    ack_note    TEXT
);
CREATE INDEX alarms_point ON alarms(point, raised_at);
CREATE INDEX alarms_open ON alarms(raised_at) WHERE cleared_at IS NULL OR acked_at IS NULL;

-- A point shelved by a supervisor (survives a restart until it expires).
CREATE TABLE shelves (
    point       TEXT    PRIMARY KEY,
    until       INTEGER NOT NULL,
    shelved_by  TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    shelved_at  INTEGER NOT NULL
);
