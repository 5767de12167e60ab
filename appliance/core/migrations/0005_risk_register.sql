-- 0005: the risk register of the dual prevention mechanism (风险分级管控), in the regulators' hierarchy:
-- risk analysis object → risk analysis unit → risk event → control measure.

CREATE TABLE risk_objects (                     -- 风险分析对象
    id            INTEGER PRIMARY KEY,
    code          TEXT    NOT NULL UNIQUE,      -- HAZARD_CODE
    name          TEXT    NOT NULL,
    major_hazard  INTEGER NOT NULL DEFAULT 0,   -- 重大危险源
    area_id       INTEGER REFERENCES areas(id),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE risk_units (                       -- 风险分析单元
    id             INTEGER PRIMARY KEY,
    object_id      INTEGER NOT NULL REFERENCES risk_objects(id),
    name           TEXT    NOT NULL,            -- RISK_UNIT_NAME
    department     TEXT    NOT NULL DEFAULT '', -- HAZARD_DEP
    liable_person  TEXT    NOT NULL DEFAULT '', -- HAZARD_LIABLE_PERSON
    area_id        INTEGER REFERENCES areas(id),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX risk_units_object ON risk_units(object_id);

CREATE TABLE risk_events (                      -- 风险事件, with its assessment
    id               INTEGER PRIMARY KEY,
    unit_id          INTEGER NOT NULL REFERENCES risk_units(id),
    name             TEXT    NOT NULL,          -- RISK_EVENT_NAME
    method           TEXT    NOT NULL CHECK (method IN ('LEC', 'LS')),
    profile          TEXT    NOT NULL,
    factors          TEXT    NOT NULL,          -- JSON {"l":..,"e":..,"c":..} or {"l":..,"s":..}
    score            REAL    NOT NULL,
    inherent_level   INTEGER NOT NULL CHECK (inherent_level BETWEEN 1 AND 4),
    residual_factors TEXT,                      -- the same after the control measures, when assessed
    residual_score   REAL,
    residual_level   INTEGER CHECK (residual_level BETWEEN 1 AND 4),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX risk_events_unit ON risk_events(unit_id);

CREATE TABLE risk_measures (                    -- 管控措施
    id                   INTEGER PRIMARY KEY,
    event_id             INTEGER NOT NULL REFERENCES risk_events(id),
    description          TEXT    NOT NULL,      -- RISK_MEASURE_DESC
    classify1            INTEGER NOT NULL CHECK (classify1 BETWEEN 1 AND 4),  -- 1 工程技术 2 维护保养 3 操作行为 4 应急措施
    classify2            TEXT    NOT NULL,      -- e.g. 1-1 工艺控制
    classify3            TEXT    NOT NULL DEFAULT '',
    data_src             INTEGER NOT NULL DEFAULT 2 CHECK (data_src IN (1, 2)),  -- 1 自动化监控 2 隐患排查
    troubleshoot_content TEXT    NOT NULL DEFAULT '',
    check_cycle          INTEGER,               -- CHECK_CYCLE
    check_cycle_unit     TEXT CHECK (check_cycle_unit IN ('hour', 'day', 'month', 'year')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX risk_measures_event ON risk_measures(event_id);
