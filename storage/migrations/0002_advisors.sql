-- Advisors (configuration, managed with `gps-admin advisors`) and their presence log.
-- storage.advisors reads and writes both; telephony.advisors holds the matching models.

CREATE TABLE advisors (
    id          bigserial PRIMARY KEY,
    login       text NOT NULL CHECK (login ~ '^[a-z][a-z0-9._-]{1,39}$'),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80 AND btrim(name) <> ''),
    -- telephony.advisors.INTERFACE; one phone belongs to one advisor at most
    interface   text NOT NULL
                CHECK (interface ~ '^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.+-]{1,64}(@[A-Za-z0-9_-]{1,64})?$'),
    -- keys of settings.routing.skills (which keys exist is checked by the application: the configuration
    -- lives outside the DB). Here: no NULL, each a well-formed key (joined with ',' they form a list of
    -- keys, and splitting that list again gives as many elements: no element hides a ',').
    skills      text[] NOT NULL DEFAULT '{}'
                CHECK (array_position(skills, NULL) IS NULL
                       AND (cardinality(skills) = 0
                            OR (array_to_string(skills, ',') ~ '^[a-z][a-z0-9_]{0,39}(,[a-z][a-z0-9_]{0,39})*$'
                                AND cardinality(string_to_array(array_to_string(skills, ','), ','))
                                    = cardinality(skills)))),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT advisors_login_key UNIQUE (login),
    CONSTRAINT advisors_interface_key UNIQUE (interface)
);

-- Append-only presence log: login, pause, talk and wrap-up times per advisor are computed from it
-- (KPIS.md: occupancy). Rows are never updated nor deleted; an advisor with events cannot be deleted
-- (deactivate them instead).
CREATE TABLE advisor_events (
    id           bigserial PRIMARY KEY,
    advisor_id   bigint NOT NULL REFERENCES advisors (id) ON DELETE RESTRICT,
    state        text NOT NULL
                 CHECK (state IN ('logged_out', 'available', 'ringing', 'on_call', 'wrap_up', 'paused')),
    reason       text CHECK (char_length(reason) <= 40),
    linkedid     text CHECK (char_length(linkedid) <= 64),
    at           timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX advisor_events_advisor_at_idx ON advisor_events (advisor_id, at);

CREATE OR REPLACE FUNCTION advisor_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'advisor_events is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER advisor_events_append_only
    BEFORE UPDATE OR DELETE ON advisor_events
    FOR EACH ROW EXECUTE FUNCTION advisor_events_append_only();

-- Continuity routing and caller history: a caller's latest calls first. It supersedes the
-- single-column index of 0001 (same leading column).
CREATE INDEX call_records_caller_arrived_idx ON call_records (caller_number, arrived_at DESC);
DROP INDEX call_records_caller_number_idx;
