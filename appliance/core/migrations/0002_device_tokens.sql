-- 0002: read-only device tokens for kiosk screens (the wall board, checkpoint screens), and the time
-- of each user's last login for the admin page.

CREATE TABLE device_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    token_hash    TEXT    NOT NULL UNIQUE,        -- sha256 of the token; the token itself is shown once
    role          TEXT    NOT NULL DEFAULT 'kiosk' CHECK (role = 'kiosk'),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);

ALTER TABLE users ADD COLUMN last_login_at INTEGER;
