-- 0015: GB/T 50493-2019 alarm details an operator must see: which side an O₂ alarm is on (low 缺氧 /
-- high 富氧), whether the reading was beyond the detector's full scale, and the controller's own level;
-- the level a point was in when it was shelved (a higher one breaks through the shelf).
ALTER TABLE alarms ADD COLUMN direction TEXT;
ALTER TABLE alarms ADD COLUMN over_range INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shelves ADD COLUMN level INTEGER NOT NULL DEFAULT 0;
