-- 0004: when an unacknowledged alarm was escalated (raised to the safety officer).
ALTER TABLE alarms ADD COLUMN escalated_at INTEGER;
