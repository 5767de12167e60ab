-- 0035: the person seen on a confirmed PPE violation, on the violation row itself (issue 20): picked by the
-- reviewer on the confirm form (or named later), shown on the card and the list, exported, and the person
-- the training domain offers the related units to. NULL: nobody named (the usual case for a camera finding).
ALTER TABLE violations ADD COLUMN person_id INTEGER REFERENCES people(id);

-- Backfill from the log: until now the person was only in the vision.confirmed event's payload
-- (`person_id`, on the event of the violation the reviewer decided); the newest such event wins.
UPDATE violations SET person_id = (
    SELECT p.id FROM events e JOIN people p ON p.id = CAST(json_extract(e.payload, '$.person_id') AS INTEGER)
    WHERE e.type = 'vision.confirmed' AND e.entity_type = 'violation'
      AND e.entity_id = CAST(violations.id AS TEXT)
      AND json_extract(e.payload, '$.person_id') IS NOT NULL
    ORDER BY e.seq DESC LIMIT 1)
WHERE state = 'confirmed';

-- The same scene's other violations were confirmed with it (one hazard for all; their events say "with"):
-- the same person.
UPDATE violations SET person_id = (
    SELECT v.person_id FROM violations v
    WHERE v.hazard_id = violations.hazard_id AND v.person_id IS NOT NULL ORDER BY v.id LIMIT 1)
WHERE person_id IS NULL AND state = 'confirmed' AND hazard_id IS NOT NULL;

CREATE INDEX violations_person ON violations(person_id) WHERE person_id IS NOT NULL;
