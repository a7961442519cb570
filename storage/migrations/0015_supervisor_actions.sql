-- Supervisor actions (issue 12 item 7): a supervisor pauses an advisor or logs them out from the wallboard, with a
-- reason; the presence log says who did it (`by_login`, NULL when the advisor or the system did) and the reason
-- they typed (`note`). The log stays append-only: new columns only.
ALTER TABLE advisor_events
    ADD COLUMN by_login text CHECK (char_length(by_login) BETWEEN 1 AND 40),
    ADD COLUMN note     text CHECK (char_length(note) BETWEEN 1 AND 200);
