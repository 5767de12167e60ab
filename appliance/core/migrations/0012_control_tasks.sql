-- 0012: control tasks (隐患排查任务): one per control measure (管控措施) per check cycle, assigned by the
-- risk unit's responsibility, checked at a patrol checkpoint or on a tablet (the check record, 排查记录).

CREATE TABLE control_tasks (
    id            INTEGER PRIMARY KEY,
    measure_id    INTEGER NOT NULL REFERENCES risk_measures(id),
    period_start  INTEGER NOT NULL,
    period_end    INTEGER NOT NULL,
    department    TEXT    NOT NULL DEFAULT '',    -- from the risk unit (HAZARD_DEP)
    assignee      TEXT    NOT NULL DEFAULT '',    -- the unit's liable person (HAZARD_LIABLE_PERSON)
    status        TEXT    NOT NULL CHECK (status IN ('open', 'done', 'missed')),
    result        INTEGER CHECK (result IN (0, 1, 2, 3)),   -- CHECK_STATUS 0 正常 / 1 存在隐患 / 2 未排查 / 3 其他
    check_record_id INTEGER REFERENCES check_records(id),
    checked_by    TEXT,
    checked_at    INTEGER,
    note          TEXT    NOT NULL DEFAULT '',
    hazard_id     INTEGER REFERENCES hazards(id),
    reminded_at   INTEGER,
    UNIQUE (measure_id, period_start)
);
CREATE INDEX control_tasks_open ON control_tasks(status, period_end);

-- a check record may now be the record of a control task (checkpoint items that carry a measure)
ALTER TABLE check_records ADD COLUMN measure_id INTEGER REFERENCES risk_measures(id);
