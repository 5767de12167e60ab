-- 0011: NFC patrol (巡检): checkpoints with their checklists, routes, plans, rounds, every tap, the check
-- records answered at a checkpoint (排查记录), where each person was last seen, and satellite reader stations.

CREATE TABLE checkpoints (
    id           INTEGER PRIMARY KEY,
    code         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    name_en      TEXT    NOT NULL DEFAULT '',
    area_id      INTEGER NOT NULL REFERENCES areas(id),
    reader       TEXT    UNIQUE,                   -- a reader fixed at this place (its configured name)
    tag_uid      TEXT    UNIQUE,                   -- or a tag fixed here, read by a reader carried there
    checklist    TEXT    NOT NULL DEFAULT '[]',    -- JSON [{"id", "text", "text_en", "category"}]
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (reader IS NOT NULL OR tag_uid IS NOT NULL)
);

CREATE TABLE routes (
    id           INTEGER PRIMARY KEY,
    code         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    name_en      TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE route_stops (
    route_id      INTEGER NOT NULL REFERENCES routes(id),
    position      INTEGER NOT NULL,
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
    min_walk_s    INTEGER NOT NULL DEFAULT 0,      -- least walking time from the previous stop
    PRIMARY KEY (route_id, position),
    UNIQUE (route_id, checkpoint_id)
);

CREATE TABLE patrol_plans (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    route_id     INTEGER NOT NULL REFERENCES routes(id),
    shift        TEXT    NOT NULL DEFAULT '',
    schedule     TEXT    NOT NULL,                 -- JSON patrol_rules.Schedule
    grace_min    INTEGER NOT NULL DEFAULT 15,      -- taps this long after the window still count (late)
    people       TEXT    NOT NULL DEFAULT '[]',    -- JSON employee numbers; empty = anyone
    departments  TEXT    NOT NULL DEFAULT '[]',    -- JSON department names; empty = any
    streak_limit INTEGER NOT NULL DEFAULT 10,
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE patrol_rounds (
    id           INTEGER PRIMARY KEY,
    plan_id      INTEGER NOT NULL REFERENCES patrol_plans(id),
    route_id     INTEGER NOT NULL REFERENCES routes(id),
    due_start    INTEGER NOT NULL,
    due_end      INTEGER NOT NULL,
    grace_ms     INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    verdict      TEXT    NOT NULL DEFAULT '{}',    -- JSON patrol_rules.Verdict
    suspicious   INTEGER NOT NULL DEFAULT 0,
    person_id    INTEGER REFERENCES people(id),    -- who walked it (first tap)
    reviewed_by  TEXT,
    review_note  TEXT,
    reviewed_at  INTEGER,
    closed       INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL,
    UNIQUE (plan_id, due_start)
);
CREATE INDEX patrol_rounds_due ON patrol_rounds(due_start);
CREATE INDEX patrol_rounds_open ON patrol_rounds(closed, due_end);

CREATE TABLE patrol_taps (
    id            INTEGER PRIMARY KEY,
    reader        TEXT    NOT NULL,
    uid           TEXT    NOT NULL,
    at            INTEGER NOT NULL,                -- when the card was read (reader's clock)
    recorded_at   INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,                -- ok, reader_login, outside_round, unknown_badge, …
    person_id     INTEGER REFERENCES people(id),
    checkpoint_id INTEGER REFERENCES checkpoints(id),
    round_id      INTEGER REFERENCES patrol_rounds(id),
    station       TEXT,                            -- satellite station that relayed it
    station_tap   TEXT,                            -- the station's own id for the tap (exactly once)
    answered      INTEGER NOT NULL DEFAULT 0,
    checklist     TEXT,                            -- the checklist as shown at the tap (answers are checked against it)
    UNIQUE (station, station_tap)
);
CREATE INDEX patrol_taps_round ON patrol_taps(round_id);
CREATE INDEX patrol_taps_reader ON patrol_taps(reader, at);
CREATE INDEX patrol_taps_person ON patrol_taps(person_id, checkpoint_id, at);

CREATE TABLE check_records (
    id            INTEGER PRIMARY KEY,
    tap_id        INTEGER REFERENCES patrol_taps(id),
    round_id      INTEGER REFERENCES patrol_rounds(id),
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
    person_id     INTEGER REFERENCES people(id),
    status        INTEGER NOT NULL CHECK (status IN (0, 1, 2, 3)),  -- 正常 / 存在隐患 / 未排查 / 其他
    answers       TEXT    NOT NULL DEFAULT '{}',   -- JSON {item id: "normal" | "abnormal"}
    note          TEXT    NOT NULL DEFAULT '',
    hazard_ids    TEXT    NOT NULL DEFAULT '[]',
    checked_at    INTEGER NOT NULL
);
CREATE INDEX check_records_round ON check_records(round_id);

CREATE TABLE last_seen (
    person_id     INTEGER PRIMARY KEY REFERENCES people(id),
    area_id       INTEGER REFERENCES areas(id),
    checkpoint_id INTEGER REFERENCES checkpoints(id),
    reader        TEXT    NOT NULL,
    at            INTEGER NOT NULL
);

CREATE TABLE stations (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    key          TEXT    NOT NULL,                 -- shared HMAC key (hex); shown once when created
    readers      TEXT    NOT NULL DEFAULT '[]',    -- JSON: the reader names this station may post taps for
    active       INTEGER NOT NULL DEFAULT 1,
    last_post_at INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE station_nonces (
    station      TEXT    NOT NULL,
    nonce        TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (station, nonce)
);
