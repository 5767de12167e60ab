-- 0027: a hazard report carries the idempotency key its form generated, so a double tap or a resend after
-- a lost answer files the hazard once (issue 15). NULL for reports made before, or through the API without one.
ALTER TABLE hazards ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX hazards_idempotency_key ON hazards(idempotency_key) WHERE idempotency_key IS NOT NULL;
