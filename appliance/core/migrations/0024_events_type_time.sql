-- 0024: queries over a window of one event type (the alarm-load figures: raises in the last hour) read that
-- window through this index instead of every event of the type since the start.
CREATE INDEX events_type_recorded ON events(type, recorded_at);
