-- 0023: sessions ended at logout, server-side: a copied session cookie stops working once its owner logs out.
-- Kept for the session lifetime (web.session_hours) and then pruned.
CREATE TABLE revoked_sessions (
    sid        TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revoked_sessions_at ON revoked_sessions(revoked_at);
