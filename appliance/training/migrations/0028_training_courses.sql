-- 0028: courses in short units (a video played from the box, or a PDF document), their assignment by login
-- role, department, work type (工种, the person's job), contractor firm (the person's company, as the core
-- records it) or one person, each person's progress per unit, and the "learn now" offers made after a hazard
-- or a PPE violation. Files are stored under the data directory by SHA-256 (training.media).

CREATE TABLE courses (
    id           INTEGER PRIMARY KEY,
    title        TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE course_units (
    id           INTEGER PRIMARY KEY,
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    position     INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('video', 'document')),
    file         TEXT    NOT NULL,               -- SHA-256 of the stored file
    mime         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    topic        TEXT    NOT NULL DEFAULT '',    -- tags: the bank's topics and work types ("learn now" matches them)
    work_type    TEXT    NOT NULL DEFAULT '',
    duration_s   REAL,                           -- a video's length, read once at upload (media worker)
    media_state  TEXT    NOT NULL DEFAULT 'ready' CHECK (media_state IN ('pending', 'ready', 'failed')),
    media_error  TEXT,
    created_at   INTEGER NOT NULL,
    UNIQUE (course_id, position)
);
CREATE INDEX course_units_topic ON course_units(topic, work_type);

CREATE TABLE training_assignments (
    id           INTEGER PRIMARY KEY,
    item_kind    TEXT    NOT NULL CHECK (item_kind IN ('course', 'exam')),
    item_id      INTEGER NOT NULL,
    target_kind  TEXT    NOT NULL CHECK (target_kind IN ('role', 'department', 'work_type', 'company', 'person')),
    target       TEXT    NOT NULL,
    due_on       TEXT,
    active       INTEGER NOT NULL DEFAULT 1,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (item_kind, item_id, target_kind, target)
);

CREATE TABLE unit_progress (
    person_id     INTEGER NOT NULL REFERENCES people(id),
    unit_id       INTEGER NOT NULL REFERENCES course_units(id),
    opened_at     INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    watched       TEXT    NOT NULL DEFAULT '[]',  -- JSON merged [start, end] seconds played (videos)
    watched_s     REAL    NOT NULL DEFAULT 0,
    completed_at  INTEGER,
    PRIMARY KEY (person_id, unit_id)
);

CREATE TABLE learn_offers (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES people(id),
    unit_id      INTEGER NOT NULL REFERENCES course_units(id),
    source_type  TEXT    NOT NULL,               -- the event type that caused it (hazard.dispatched, vision.confirmed, manual)
    source_id    TEXT    NOT NULL,               -- its entity id (hazard, violation)
    reason       TEXT    NOT NULL DEFAULT '',
    offered_at   INTEGER NOT NULL,
    done_at      INTEGER,
    UNIQUE (person_id, unit_id, source_type, source_id)
);
CREATE INDEX learn_offers_person ON learn_offers(person_id, done_at);
