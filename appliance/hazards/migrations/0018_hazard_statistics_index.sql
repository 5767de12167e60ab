-- 0018: the quarterly/annual statistics select hazards by when they were reported and when they closed.
CREATE INDEX hazards_reported_at ON hazards(reported_at);
CREATE INDEX hazards_accepted_at ON hazards(accepted_at) WHERE accepted_at IS NOT NULL;
