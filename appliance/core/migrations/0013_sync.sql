-- 0013: store-and-forward sync state. The event log itself is the outbox; these tables only say how far
-- each endpoint has acknowledged it (one cursor per endpoint and priority lane), which records an endpoint
-- refused (the dead-letter list, replayable), and which photos it already holds.

CREATE TABLE sync_cursors (
    endpoint    TEXT    NOT NULL,
    lane        TEXT    NOT NULL,              -- safety, records, photos
    cursor      INTEGER NOT NULL DEFAULT 0,    -- highest events.seq the endpoint acknowledged in this lane
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (endpoint, lane)
);

CREATE TABLE sync_dead_letters (
    id           INTEGER PRIMARY KEY,
    endpoint     TEXT    NOT NULL,
    seq          INTEGER NOT NULL,             -- the refused event (events.seq)
    event_id     TEXT    NOT NULL,
    reason       TEXT    NOT NULL,             -- what the endpoint said, as it said it
    created_at   INTEGER NOT NULL,
    replayed_at  INTEGER,                      -- set when an admin asked to send it again
    resolved_at  INTEGER,                      -- set when the endpoint then accepted it
    UNIQUE (endpoint, seq)
);
CREATE INDEX sync_dead_letters_open ON sync_dead_letters(endpoint) WHERE resolved_at IS NULL;

CREATE TABLE sync_photos (
    endpoint    TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL,              -- uploaded, or found already there
    PRIMARY KEY (endpoint, sha256)
);

-- The aggregates lane reads finished minutes in order of time, across points.
CREATE INDEX reading_minutes_minute ON reading_minutes(minute);
