-- 0030: a hazard reported twice (two people, or one double tap before 0027) is closed as a duplicate of the
-- other one (issue 15 item 2). It keeps state 'closed' (the CHECK of 0006 allows no other state without
-- rebuilding the table of record) and is told apart by duplicate_of: it was never dispatched, rectified or
-- accepted, so the rates, the cockpit, the reports and the regulator's copy leave it out (or delete it).
ALTER TABLE hazards ADD COLUMN duplicate_of INTEGER REFERENCES hazards(id);
ALTER TABLE hazards ADD COLUMN duplicate_note TEXT;
ALTER TABLE hazards ADD COLUMN duplicate_by TEXT;
ALTER TABLE hazards ADD COLUMN duplicate_at INTEGER;
CREATE INDEX hazards_duplicate_of ON hazards(duplicate_of) WHERE duplicate_of IS NOT NULL;
