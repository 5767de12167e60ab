-- 0008: when a hazard's deadline reminder went out and when its overdue escalation did.
ALTER TABLE hazards ADD COLUMN reminded_at INTEGER;
ALTER TABLE hazards ADD COLUMN escalated_at INTEGER;
