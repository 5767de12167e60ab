-- 0034: the answers of API writes sent with an Idempotency-Key (issue 15: a double tap on 提交, or a resend
-- after a lost answer, must not file twice on any form). One row per (principal, method, path, key): the
-- first request claims it ('running'), its answer is kept ('done') for 24 h and replayed to a repeat.
-- Pruned by a scheduled job; nothing else reads it.
CREATE TABLE idempotency_keys (
    principal   TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('running', 'done')),
    status      INTEGER,
    body        TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (principal, method, path, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
