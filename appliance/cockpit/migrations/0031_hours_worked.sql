-- 0031: the hours actually worked, per month (GB/T 6441-1986 §6.3 实际总工时), recorded by a safety officer
-- for the whole plant or for a department or a contractor firm (issue 22). The cockpit's accident rate
-- (百万工时伤害率) and violation rate use them where recorded and fall back to the estimate (active
-- employees × 8 h × days) for the months without; one row per (month, kind of unit, unit): a second entry
-- for the same month and unit replaces the first (the event log keeps both).
CREATE TABLE cockpit_hours (
    id INTEGER PRIMARY KEY,
    month TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    unit_kind TEXT NOT NULL DEFAULT 'plant' CHECK (unit_kind IN ('plant', 'department', 'firm')),
    unit TEXT NOT NULL DEFAULT '' CHECK ((unit_kind = 'plant') = (unit = '')),
    hours REAL NOT NULL CHECK (hours >= 0),
    note TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (month, unit_kind, unit)
);
