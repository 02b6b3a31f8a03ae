-- Site logins that ended before their time (logged out, password changed or reset, account
-- disabled), kept for an hour, the longest a relay ticket lives: the devices are told them
-- (down/logins-ended) to revoke the tickets given for them, after a site restart too.
CREATE TABLE IF NOT EXISTS ended_logins (
    login      TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    ended_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ended_logins_at ON ended_logins (ended_at);
