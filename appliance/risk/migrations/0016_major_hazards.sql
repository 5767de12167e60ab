-- 0016: major hazard installations (危险化学品重大危险源, GB 18218-2018): the plant's production and storage
-- units with their dangerous chemicals; identification and level are computed from these (appliance/risk/major_rules.py).

CREATE TABLE mh_installations (
    id            INTEGER PRIMARY KEY,
    code          TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('tank_farm', 'warehouse', 'production')),  -- 储罐区 / 库区 / 生产装置
    area_id       INTEGER REFERENCES areas(id),
    people_500m   INTEGER NOT NULL CHECK (people_500m >= 0),   -- people outside the plant within 500 m (α, 表 5)
    note          TEXT    NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE mh_substances (
    id               INTEGER PRIMARY KEY,
    installation_id  INTEGER NOT NULL REFERENCES mh_installations(id),
    position         INTEGER NOT NULL,              -- order as entered
    name             TEXT    NOT NULL,
    cas              TEXT    NOT NULL DEFAULT '',
    category         TEXT    NOT NULL,              -- GB 18218-2018 表 4 symbol (J1…W11) or 'other'
    q_t              REAL    NOT NULL CHECK (q_t >= 0),          -- actual maximum quantity q, t
    critical_t       REAL    NOT NULL CHECK (critical_t > 0)     -- critical quantity Q, t
);
CREATE INDEX mh_substances_installation ON mh_substances(installation_id, position);
