-- 0036: a hazard may name the contractor firm involved (issue 19: the firm's evaluation counts the hazards it
-- caused). NULL for the plant's own hazards and for those reported before: for these the evaluation falls back
-- to finding the firm's or its workers' names in the text.
ALTER TABLE hazards ADD COLUMN firm_id INTEGER REFERENCES contractor_firms(id);
CREATE INDEX hazards_firm ON hazards(firm_id, reported_at) WHERE firm_id IS NOT NULL;
