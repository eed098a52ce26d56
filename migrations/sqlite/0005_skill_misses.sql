-- Misses: runs of a skill tried as the answer to a task it was not written for (a retrieved
-- skill against another task's check) that did not pass it. They count as calls, but neither
-- as successes nor as failures: a skill that is not another task's answer is not weak.
-- Same column as migrations/postgres/0005_skill_misses.sql.

ALTER TABLE skill_stats ADD COLUMN misses INTEGER NOT NULL DEFAULT 0;
