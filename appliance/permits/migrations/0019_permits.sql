-- 0019: special work permits (特殊作业票) per GB 30871-2022: the permit, its gas analyses, its people
-- verified on site by badge. Every change is also a permit.* event (the audit log and the safety lane).
CREATE TABLE permits (
    id INTEGER PRIMARY KEY,
    no TEXT NOT NULL UNIQUE,              -- 作业证编号
    type TEXT NOT NULL,                   -- rules.TYPES
    grade TEXT NOT NULL,                  -- rules.GRADES[type]
    area_id INTEGER NOT NULL REFERENCES areas(id),
    location TEXT NOT NULL,               -- 作业位置 (one place, one job)
    content TEXT NOT NULL,                -- 作业内容
    medium TEXT,                          -- 介质 (its gas code, for the LEL)
    medium_lel REAL,                      -- its LEL in % V/V where the gas is not in the table
    state TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER NOT NULL,
    applicant TEXT NOT NULL,              -- actor who applied
    workers TEXT NOT NULL,                -- JSON list of person ids
    guardian_id INTEGER NOT NULL REFERENCES people(id),   -- 监护人
    issuer_id INTEGER NOT NULL REFERENCES people(id),     -- 作业负责人 / 交底人
    reader TEXT,                          -- the badge reader at the work site
    measures TEXT NOT NULL DEFAULT '{}',  -- JSON {code: {applies, by, at}}
    jsa TEXT NOT NULL DEFAULT '',         -- 工作危害分析 (risks identified)
    approval_level TEXT NOT NULL,         -- rules.APPROVER_ROLES key, after SIMOPS
    simops TEXT,                          -- JSON {verdict, permits: [ids]}
    approved_by TEXT,
    approved_at INTEGER,
    briefed_at INTEGER,
    started_at INTEGER,
    suspended_at INTEGER,
    suspended_reason TEXT,
    last_pass_at INTEGER,                 -- the newest passing analysis
    closed_at INTEGER,
    closed_by TEXT,
    close_note TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX permits_state_area ON permits(state, area_id);

CREATE TABLE permit_analyses (
    id INTEGER PRIMARY KEY,
    permit_id INTEGER NOT NULL REFERENCES permits(id),
    at INTEGER NOT NULL,                  -- when sampled
    source TEXT NOT NULL,                 -- manual | live
    analyst TEXT NOT NULL,
    instrument TEXT NOT NULL DEFAULT '',
    samples TEXT NOT NULL,                -- JSON list of {gas, kind, value, unit, oel, point}
    passed INTEGER NOT NULL,
    reasons TEXT NOT NULL,                -- JSON list
    recorded_at INTEGER NOT NULL
);
CREATE INDEX permit_analyses_permit ON permit_analyses(permit_id, at);

CREATE TABLE permit_presence (
    id INTEGER PRIMARY KEY,
    permit_id INTEGER NOT NULL REFERENCES permits(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    source TEXT NOT NULL,                 -- reader | tablet
    reader TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX permit_presence_permit ON permit_presence(permit_id);
