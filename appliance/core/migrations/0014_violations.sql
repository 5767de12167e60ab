-- 0014: PPE violations from the vision process (a head without a hard hat, debounced), with their evidence
-- by SHA-256: the annotated snapshot (in photos/, so a confirmed violation's hazard links it as its photo)
-- and the raw frame (in vision/frames/, kept for the next training when a violation is rejected).
CREATE TABLE violations (
    id              INTEGER PRIMARY KEY,
    camera          TEXT    NOT NULL,
    zone            TEXT    NOT NULL,
    area            TEXT,                             -- area code of the zone or camera (hazards land there)
    track           INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL,                 -- capture time of the frame that completed the debounce
    score           REAL    NOT NULL,
    box             TEXT    NOT NULL,                 -- JSON [x1, y1, x2, y2] in frame pixels
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    snapshot        TEXT    NOT NULL,                 -- SHA-256 of the annotated JPEG (photos/)
    frame           TEXT    NOT NULL,                 -- SHA-256 of the raw JPEG (vision/frames/)
    state           TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'confirmed', 'rejected')),
    decided_by      TEXT,
    decided_at      INTEGER,
    note            TEXT,
    hazard_id       INTEGER REFERENCES hazards(id)
);
CREATE INDEX violations_open ON violations(state, id);
CREATE INDEX violations_camera ON violations(camera, occurred_at);
