-- 0010: automatic dispatch of new hazards: area → responsible person, category → specialist, or both.
CREATE TABLE hazard_dispatch_rules (
    id        INTEGER PRIMARY KEY,
    area_id   INTEGER REFERENCES areas(id),      -- NULL: any area
    category  TEXT,                               -- NULL: any category
    assignee  TEXT    NOT NULL,                   -- user login
    created_at INTEGER NOT NULL,
    CHECK (area_id IS NOT NULL OR category IS NOT NULL)
);
CREATE UNIQUE INDEX hazard_dispatch_rules_key ON hazard_dispatch_rules(coalesce(area_id, 0), coalesce(category, ''));
