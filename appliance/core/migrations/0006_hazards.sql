-- 0006: hazards (隐患) and their closed loop: report → dispatch → rectify → accept (or reject) → closed.
CREATE TABLE hazards (
    id              INTEGER PRIMARY KEY,
    area_id         INTEGER NOT NULL REFERENCES areas(id),
    category        TEXT    NOT NULL,                 -- HAZARD_DANGER_TYPE (安全, 工艺, 电气, …)
    description     TEXT    NOT NULL,
    grade           TEXT    NOT NULL CHECK (grade IN ('general', 'major')),
    state           TEXT    NOT NULL CHECK (state IN ('reported', 'rectifying', 'pending_acceptance', 'closed')),
    reporter        TEXT    NOT NULL,                 -- actor, or 'anonymous'
    reported_at     INTEGER NOT NULL,
    assignee        TEXT,                             -- login of the person who must rectify
    deadline        INTEGER,
    plan            TEXT,                             -- JSON treatment plan (major hazards)
    rectifier       TEXT,
    rectified_at    INTEGER,
    rectify_note    TEXT,
    accepted_by     TEXT,
    accepted_at     INTEGER,
    accept_note     TEXT,
    rejections      INTEGER NOT NULL DEFAULT 0,
    recurrence_of   INTEGER REFERENCES hazards(id),
    updated_at      INTEGER NOT NULL
);
CREATE INDEX hazards_state ON hazards(state, deadline);
CREATE INDEX hazards_area ON hazards(area_id, category, reported_at);
