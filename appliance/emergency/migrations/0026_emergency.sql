-- 0026: emergency management (应急管理): the walk graph, assembly points with readers, resources and teams,
-- plans, incidents (from a level-2 gas alarm, by hand, or a drill), musters, accidents (国务院令第493号).
-- Every change is also an emergency.* event (the audit log and the sync safety lane).
CREATE TABLE emergency_walk_edges (
    id INTEGER PRIMARY KEY,
    a_area_id INTEGER NOT NULL REFERENCES areas(id),
    b_area_id INTEGER NOT NULL REFERENCES areas(id),
    metres REAL NOT NULL CHECK (metres >= 0),
    door TEXT NOT NULL DEFAULT '',            -- the door / passage between them
    UNIQUE (a_area_id, b_area_id)
);

CREATE TABLE emergency_assembly_points (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    area_id INTEGER NOT NULL REFERENCES areas(id),
    reader TEXT UNIQUE,                       -- the badge reader at the point (its taps come as patrol.tap)
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE emergency_resources (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                       -- rules.RESOURCE_KINDS
    name TEXT NOT NULL,
    area_id INTEGER NOT NULL REFERENCES areas(id),
    location TEXT NOT NULL DEFAULT '',
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    available INTEGER NOT NULL CHECK (available >= 0),
    inspected_on TEXT,                        -- ISO dates
    next_inspection TEXT,
    expires_on TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL
);

CREATE TABLE emergency_teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                       -- rescue | fire | medical | evacuation | …
    area_id INTEGER REFERENCES areas(id),     -- where it is based
    on_duty INTEGER NOT NULL DEFAULT 1,
    members TEXT NOT NULL,                    -- JSON [{person_id, role, phone}]
    updated_at INTEGER NOT NULL
);

CREATE TABLE emergency_plans (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    scenario TEXT NOT NULL,                   -- leak | fire | poisoning | confined_space
    name TEXT NOT NULL,
    level TEXT NOT NULL DEFAULT '现场处置方案',
    steps TEXT NOT NULL,                      -- JSON [{code, text, text_en, role}]
    updated_at INTEGER NOT NULL
);

CREATE TABLE emergency_incidents (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                       -- leak | fire | poisoning | confined_space | other
    drill INTEGER NOT NULL DEFAULT 0,         -- a drill: DRILL everywhere, never an alarm record
    state TEXT NOT NULL,                      -- open | closed
    source TEXT NOT NULL,                     -- alarm | manual | drill
    area_id INTEGER NOT NULL REFERENCES areas(id),
    title TEXT NOT NULL,
    detectors TEXT NOT NULL DEFAULT '[]',     -- JSON [{point, name, gas, level, value, unit, alarm_id, over_range}]
    gas TEXT,
    wind_from REAL,                           -- degrees, the direction the wind blows from
    plan_id INTEGER REFERENCES emergency_plans(id),
    snapshot TEXT NOT NULL DEFAULT '{}',      -- JSON: people near, permits, resources, teams, route, downwind
    steps TEXT NOT NULL DEFAULT '{}',         -- JSON {step code: {at, by}}
    opened_at INTEGER NOT NULL,
    opened_by TEXT NOT NULL,
    closed_at INTEGER,
    closed_by TEXT,
    close_note TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX emergency_incidents_open ON emergency_incidents (state, area_id);

CREATE TABLE emergency_musters (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER REFERENCES emergency_incidents(id),
    drill INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    expected TEXT NOT NULL                    -- JSON [{person_id, area, at, source}] taken at the start
);

CREATE TABLE emergency_muster_marks (
    id INTEGER PRIMARY KEY,
    muster_id INTEGER NOT NULL REFERENCES emergency_musters(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    point_id INTEGER REFERENCES emergency_assembly_points(id),
    how TEXT NOT NULL,                        -- tap | manual
    at INTEGER NOT NULL,
    UNIQUE (muster_id, person_id)
);

CREATE TABLE emergency_drills (
    id INTEGER PRIMARY KEY,
    plan_id INTEGER NOT NULL REFERENCES emergency_plans(id),
    incident_id INTEGER NOT NULL REFERENCES emergency_incidents(id),
    form TEXT NOT NULL DEFAULT 'practical',   -- AQ/T 9007-2019: practical (实战) | tabletop (桌面)
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    evaluation TEXT,                          -- JSON {summary, shortcomings, rating}
    findings TEXT NOT NULL DEFAULT '[]'       -- JSON [{text, hazard_id}]
);

CREATE TABLE emergency_accidents (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER REFERENCES emergency_incidents(id),
    occurred_at INTEGER NOT NULL,
    area_id INTEGER NOT NULL REFERENCES areas(id),
    kind TEXT NOT NULL,                       -- leak | fire | poisoning | … (GB 6441 type in `type`)
    type TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    reporter TEXT NOT NULL,
    deaths INTEGER NOT NULL DEFAULT 0,
    serious_injuries INTEGER NOT NULL DEFAULT 0,
    minor_injuries INTEGER NOT NULL DEFAULT 0,
    direct_loss_yuan INTEGER NOT NULL DEFAULT 0,
    grade TEXT NOT NULL,                      -- rules.GRADES (493号令 第三条)
    reported_at INTEGER,                      -- reported to the authority (第九条)
    investigation TEXT NOT NULL DEFAULT '{}', -- JSON {why: [5], fishbone: {man, machine, material, method, environment, measurement}, cause}
    corrective TEXT NOT NULL DEFAULT '[]',    -- JSON [{text, hazard_id}]
    related TEXT NOT NULL DEFAULT '[]',       -- JSON [accident ids] (recurrence)
    state TEXT NOT NULL,                      -- reported | investigating | closed
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
