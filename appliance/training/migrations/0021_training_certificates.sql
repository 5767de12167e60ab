-- 0021: safety certificates per person (特种作业操作证, 特种设备作业人员证, 安全生产知识和管理能力考核合格证) and
-- the expiry warnings recorded for them (one row per certificate, last valid day and threshold), so that the
-- rate of certificates warned before they lapse is measurable (资质证书预警率). Dates are the plant's calendar
-- days (YYYY-MM-DD); times are UTC milliseconds.

CREATE TABLE certificates (
    id            INTEGER PRIMARY KEY,
    person_id     INTEGER NOT NULL REFERENCES people(id),
    kind          TEXT    NOT NULL,              -- training.rules.KINDS code, e.g. WELD-FUSION
    number        TEXT    NOT NULL,              -- 证号
    issuer        TEXT    NOT NULL DEFAULT '',   -- 发证机关
    issued_on     TEXT    NOT NULL,
    expires_on    TEXT    NOT NULL,
    review_due_on TEXT,                          -- 复审日期 (特种作业操作证: every 3 years)
    photo         TEXT,                          -- SHA-256 of a photo of the certificate
    revoked       INTEGER NOT NULL DEFAULT 0,
    note          TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (kind, number)
);
CREATE INDEX certificates_person ON certificates(person_id);

CREATE TABLE certificate_warnings (
    id              INTEGER PRIMARY KEY,
    certificate_id  INTEGER NOT NULL REFERENCES certificates(id),
    last_valid_on   TEXT    NOT NULL,            -- the certificate's last valid day when warned (renewal: new rows)
    days            INTEGER NOT NULL,            -- the threshold: 60, 30, 7, 0 days before
    due_on          TEXT    NOT NULL,
    sent_at         INTEGER NOT NULL,
    late            INTEGER NOT NULL,            -- sent after its due day (appliance off, entered late)
    before_expiry   INTEGER NOT NULL,            -- sent while the certificate was still valid
    acknowledged_by TEXT,
    acknowledged_at INTEGER,
    UNIQUE (certificate_id, last_valid_on, days)
);
CREATE INDEX certificate_warnings_open ON certificate_warnings(acknowledged_at);

-- what the training-hours rule needs of a person (3号令 Art. 9/13): their category and the year of their
-- initial training in it (that year the initial minimum applies, later years the yearly one)
CREATE TABLE training_profiles (
    person_id     INTEGER PRIMARY KEY REFERENCES people(id),
    category      TEXT    NOT NULL CHECK (category IN ('principal', 'safety_manager', 'worker')),
    initial_year  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE training_records (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    held_on     TEXT    NOT NULL,
    hours       REAL    NOT NULL CHECK (hours > 0 AND hours <= 24),
    title       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,               -- initial, yearly, refresher, special, briefing
    trainer     TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX training_records_person ON training_records(person_id, held_on);
