-- 0025: a permit's cameras and the PPE violations seen on its job while it is on site (GB 30871-2022 §4:
-- the guardian watches the job; appliance/permits/watch.py attaches vision.violation events to it).
ALTER TABLE permits ADD COLUMN cameras TEXT NOT NULL DEFAULT '[]';   -- JSON list of camera names

CREATE TABLE permit_violations (
    id INTEGER PRIMARY KEY,
    permit_id INTEGER NOT NULL REFERENCES permits(id),
    violation_id INTEGER NOT NULL,        -- vision's violations.id (its record and evidence stay there)
    camera TEXT NOT NULL,
    zone TEXT NOT NULL DEFAULT '',
    area TEXT,
    snapshot TEXT,                        -- the evidence photo's digest
    occurred_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (permit_id, violation_id)
);
CREATE INDEX permit_violations_permit ON permit_violations(permit_id, occurred_at);
