-- 0006: readiness reviews (checklist steps).
-- PostgreSQL's twin of ../0006_checklists.sql.

CREATE TABLE checklist_answers (
    run_id       BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step         BIGINT NOT NULL,
    question     BIGINT NOT NULL,
    text         TEXT   NOT NULL,
    answer       TEXT   NOT NULL DEFAULT '',
    note         TEXT   NOT NULL DEFAULT '',
    actor_id     TEXT   NOT NULL DEFAULT '',
    actor_name   TEXT   NOT NULL DEFAULT '',
    answered_at  BIGINT,
    PRIMARY KEY (run_id, step, question)
);
