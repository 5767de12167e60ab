-- 0033: a 盲板抽堵 (line blinding) permit's medium temperature and pressure (GB 30871-2022 §7; the regional
-- schema's 温度 gdwd and 压力 gdyl, RULES.md §B.1), on the permit instead of only in its permit.applied event;
-- backfilled from that event where it carried them (permits applied before this kept them only there).
ALTER TABLE permits ADD COLUMN medium_temp_c REAL;         -- °C
ALTER TABLE permits ADD COLUMN medium_pressure_mpa REAL;   -- MPa, gauge
UPDATE permits SET
    medium_temp_c = (SELECT json_extract(e.payload, '$.medium_temp_c') FROM events e
                     WHERE e.type = 'permit.applied' AND e.entity_type = 'permit'
                       AND e.entity_id = CAST(permits.id AS TEXT) ORDER BY e.seq LIMIT 1),
    medium_pressure_mpa = (SELECT json_extract(e.payload, '$.medium_pressure_mpa') FROM events e
                           WHERE e.type = 'permit.applied' AND e.entity_type = 'permit'
                             AND e.entity_id = CAST(permits.id AS TEXT) ORDER BY e.seq LIMIT 1);
