-- 0009: the risk map counts open hazards per area on every refresh: a partial index over open hazards
-- only (a plant's closed hazards grow without end) makes that count a short index scan.
CREATE INDEX hazards_open_area ON hazards(area_id) WHERE state != 'closed';
