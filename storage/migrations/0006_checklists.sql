-- 0006: readiness reviews (checklist steps).

-- One row per question of a checklist step of a run, written when the step
-- opens; answer, note, actor and answered_at are filled in once, when the
-- question is answered ('' until then), so that two people answering at once
-- (also through two replicas) cannot both count.
CREATE TABLE checklist_answers (
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step         INTEGER NOT NULL,                 -- StepRun.Index
    question     INTEGER NOT NULL,                 -- 1-based
    text         TEXT    NOT NULL,
    answer       TEXT    NOT NULL DEFAULT '',      -- '', 'yes' or 'no'
    note         TEXT    NOT NULL DEFAULT '',
    actor_id     TEXT    NOT NULL DEFAULT '',
    actor_name   TEXT    NOT NULL DEFAULT '',
    answered_at  INTEGER,
    PRIMARY KEY (run_id, step, question)
);
