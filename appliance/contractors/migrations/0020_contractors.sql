-- 0020: contractors (承包商) — firms, their documents under review, their workers (people of the core
-- keyed by person id), jobs with their workers and safety briefings, evaluations, and every gate decision.
-- Dates the law prints (expiry, training, job days) are calendar dates 'YYYY-MM-DD' in the plant's time zone;
-- times are UTC milliseconds.
CREATE TABLE contractor_firms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    credit_code TEXT NOT NULL DEFAULT '',          -- 统一社会信用代码
    contact TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    blacklisted INTEGER NOT NULL DEFAULT 0,
    blacklist_reason TEXT,
    blacklisted_by TEXT,
    blacklisted_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE contractor_documents (
    id INTEGER PRIMARY KEY,
    firm_id INTEGER NOT NULL REFERENCES contractor_firms(id),
    kind TEXT NOT NULL,
    number TEXT NOT NULL DEFAULT '',
    expires_on TEXT,                               -- NULL: long-term
    photo TEXT,                                    -- SHA-256 of the scan (appliance/core/photos)
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    submitted_by TEXT NOT NULL,
    reviewed_by TEXT,
    review_reason TEXT,
    reviewed_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX contractor_documents_firm ON contractor_documents(firm_id);

CREATE TABLE contractor_workers (
    person_id INTEGER PRIMARY KEY REFERENCES people(id),
    firm_id INTEGER NOT NULL REFERENCES contractor_firms(id),
    id_number TEXT NOT NULL DEFAULT '',            -- shown masked in every list (个人信息保护法 Art. 28)
    trained_on TEXT,                               -- 入厂安全教育, the last date given
    trained_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contractor_workers_firm ON contractor_workers(firm_id);

CREATE TABLE contractor_jobs (
    id INTEGER PRIMARY KEY,
    firm_id INTEGER NOT NULL REFERENCES contractor_firms(id),
    title TEXT NOT NULL,
    area_id INTEGER REFERENCES areas(id),
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    required_certs TEXT NOT NULL DEFAULT '[]',     -- JSON list of 特种作业 types (rules.CERT_TYPES)
    status TEXT NOT NULL DEFAULT 'planned'
        CHECK (status IN ('planned', 'approved', 'started', 'finished', 'cancelled')),
    created_by TEXT NOT NULL,
    approved_by TEXT,
    started_at INTEGER,
    finished_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contractor_jobs_firm ON contractor_jobs(firm_id);

CREATE TABLE contractor_job_workers (
    job_id INTEGER NOT NULL REFERENCES contractor_jobs(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    PRIMARY KEY (job_id, person_id)
);
CREATE INDEX contractor_job_workers_person ON contractor_job_workers(person_id);

CREATE TABLE contractor_briefings (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES contractor_jobs(id),
    content TEXT NOT NULL,
    given_by TEXT NOT NULL,
    given_at INTEGER NOT NULL
);
CREATE INDEX contractor_briefings_job ON contractor_briefings(job_id);

CREATE TABLE contractor_briefing_attendees (
    briefing_id INTEGER NOT NULL REFERENCES contractor_briefings(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    confirmed_at INTEGER NOT NULL,
    uid_tail TEXT NOT NULL,                        -- the badge that confirmed (its last 4 characters)
    PRIMARY KEY (briefing_id, person_id)
);

CREATE TABLE contractor_evaluations (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL UNIQUE REFERENCES contractor_jobs(id),
    firm_id INTEGER NOT NULL REFERENCES contractor_firms(id),
    ppe_violations INTEGER NOT NULL CHECK (ppe_violations >= 0),
    hazards_caused INTEGER NOT NULL CHECK (hazards_caused >= 0),
    permit_breaches INTEGER NOT NULL CHECK (permit_breaches >= 0),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    score INTEGER NOT NULL,
    grade TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    evaluated_by TEXT NOT NULL,
    evaluated_at INTEGER NOT NULL
);
CREATE INDEX contractor_evaluations_firm ON contractor_evaluations(firm_id, evaluated_at);

CREATE TABLE gate_entries (
    id INTEGER PRIMARY KEY,
    tap_id INTEGER UNIQUE,                         -- the patrol.tap it answers (one decision per tap)
    at INTEGER NOT NULL,
    reader TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    person_id INTEGER REFERENCES people(id),
    firm_id INTEGER REFERENCES contractor_firms(id),
    job_id INTEGER REFERENCES contractor_jobs(id),
    uid_tail TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL CHECK (decision IN ('allowed', 'refused', 'exit')),
    reason TEXT NOT NULL,
    reasons TEXT NOT NULL DEFAULT '[]',
    recorded_at INTEGER NOT NULL
);
CREATE INDEX gate_entries_at ON gate_entries(at);
CREATE INDEX gate_entries_person ON gate_entries(person_id, at);
