-- Episode leases: which process runs an open episode, and until when without renewing.
-- A process takes an episode only with a conditional UPDATE (free, or its lease expired),
-- renews its lease while it drives the episode, and frees it when it stops cleanly; an
-- episode whose process died is taken over once its lease has expired.
-- Same columns as migrations/sqlite/0004_episode_leases.sql.

ALTER TABLE episodes ADD COLUMN owner TEXT;                    -- the holder's instance id; NULL: free
ALTER TABLE episodes ADD COLUMN lease_expires_at TIMESTAMPTZ;  -- NULL when free
