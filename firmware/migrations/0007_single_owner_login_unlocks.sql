-- A device has one owner. The set-up checks this in the transaction that creates the owner; these
-- triggers make a second owner row impossible whatever writes it (a racing request, another
-- process, a bug). A database that already holds two owners keeps them (triggers check only new
-- writes): the owner removes the extra one by hand.
CREATE TRIGGER IF NOT EXISTS users_one_owner_insert
BEFORE INSERT ON users
WHEN NEW.role = 'owner' AND EXISTS (SELECT 1 FROM users WHERE role = 'owner')
BEGIN
    SELECT RAISE(ABORT, 'an owner account already exists');
END;

CREATE TRIGGER IF NOT EXISTS users_one_owner_update
BEFORE UPDATE OF role ON users
WHEN NEW.role = 'owner' AND OLD.role <> 'owner'
    AND EXISTS (SELECT 1 FROM users WHERE role = 'owner')
BEGIN
    SELECT RAISE(ABORT, 'an owner account already exists');
END;

-- `camera-app unlock-logins [USER]`: the console asks the running service to lift login locks.
-- The service's login limiter keeps its counts in memory and reads the rows newer than the last
-- one it applied when it is about to refuse an attempt. username NULL: every lock.
CREATE TABLE IF NOT EXISTS login_unlocks (
    id           INTEGER PRIMARY KEY,
    username     TEXT,
    requested_at REAL NOT NULL
);
