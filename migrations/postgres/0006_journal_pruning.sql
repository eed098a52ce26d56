-- Journal pruning: the journals (episode_events) of finished episodes that admitted nothing
-- can be deleted once they are old (`skillforge episodes prune`, the daemon's
-- [episodes] keep_journals_days); the episode row stays, with its task, status and outcome,
-- and says when its journal went. Journals of admissions (a skill's evidence) and of open
-- episodes (what a resume replays) are never pruned.
-- Same column as migrations/sqlite/0006_journal_pruning.sql.

ALTER TABLE episodes ADD COLUMN journal_pruned_at TIMESTAMPTZ;  -- NULL: the journal is whole
