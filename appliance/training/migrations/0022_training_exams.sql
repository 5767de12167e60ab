-- 0022: the question bank, exams generated from rules, and the attempts people make at them.

CREATE TABLE questions (
    id           INTEGER PRIMARY KEY,
    code         TEXT    NOT NULL UNIQUE,        -- the plant's question number (import matches by it)
    kind         TEXT    NOT NULL CHECK (kind IN ('single', 'multiple', 'judge')),
    stem         TEXT    NOT NULL,
    options      TEXT    NOT NULL,               -- JSON list of option texts
    answer       TEXT    NOT NULL,               -- JSON sorted list of option indexes
    explanation  TEXT    NOT NULL DEFAULT '',
    topic        TEXT    NOT NULL,
    work_type    TEXT    NOT NULL DEFAULT '',
    difficulty   INTEGER NOT NULL CHECK (difficulty BETWEEN 1 AND 3),
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX questions_topic ON questions(topic, difficulty);

CREATE TABLE exams (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL,
    picks         TEXT    NOT NULL,              -- JSON [{topic, difficulty, count}]
    pass_mark     REAL    NOT NULL,              -- percent
    time_limit_s  INTEGER NOT NULL,
    max_attempts  INTEGER NOT NULL DEFAULT 3,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE exam_attempts (
    id            INTEGER PRIMARY KEY,
    exam_id       INTEGER NOT NULL REFERENCES exams(id),
    person_id     INTEGER NOT NULL REFERENCES people(id),
    number        INTEGER NOT NULL,              -- 1 for the first attempt, 2 for the first retake …
    questions     TEXT    NOT NULL,              -- JSON list of question ids, in paper order
    started_at    INTEGER NOT NULL,
    deadline_at   INTEGER NOT NULL,              -- the server's clock decides, not the tablet's
    state         TEXT    NOT NULL CHECK (state IN ('open', 'submitted', 'timed_out')),
    answers       TEXT,                          -- JSON list (per question) of chosen option indexes
    results       TEXT,                          -- JSON list of booleans, per question
    submitted_at  INTEGER,
    correct       INTEGER,
    score         REAL,
    passed        INTEGER,
    UNIQUE (exam_id, person_id, number)
);
-- one attempt at a time: at most one open attempt per person and exam
CREATE UNIQUE INDEX exam_attempts_one_open ON exam_attempts(exam_id, person_id) WHERE state = 'open';
