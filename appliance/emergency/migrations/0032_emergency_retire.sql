-- 0032: emergency teams and plans can be retired from the tablet's master-data screens (resources and assembly
-- points had `active` already): a retired one is kept for the incidents, drills and events that name it, but
-- no longer offered (dispatch suggestions, plan for a new incident, drill choice).
ALTER TABLE emergency_teams ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
ALTER TABLE emergency_plans ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
