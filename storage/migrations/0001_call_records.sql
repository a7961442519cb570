-- One row per call on the public line, keyed by Asterisk's Linkedid.
-- PBX facts are written by storage.calls (idempotent upsert); qualification columns are written
-- by the advisor desk only and are never touched by the upsert.

CREATE TABLE call_records (
    linkedid            text PRIMARY KEY CHECK (char_length(linkedid) BETWEEN 1 AND 64),

    -- PBX facts (telephony.records.CallRecord)
    caller_number       text CHECK (char_length(caller_number) <= 32),
    caller_number_raw   text NOT NULL DEFAULT '' CHECK (char_length(caller_number_raw) <= 80),
    caller_name         text CHECK (char_length(caller_name) <= 80),
    called_number       text NOT NULL DEFAULT '' CHECK (char_length(called_number) <= 32),
    arrived_at          timestamptz NOT NULL,
    line_open           boolean NOT NULL,
    queue               text CHECK (char_length(queue) <= 80),
    queue_entered_at    timestamptz,
    queue_left_at       timestamptz,
    rings               jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(rings) = 'array'),
    answered_at         timestamptz,
    advisor_interface   text CHECK (char_length(advisor_interface) <= 200),
    advisor_name        text CHECK (char_length(advisor_name) <= 200),
    transfer_kind       text CHECK (transfer_kind IN ('blind', 'attended')),
    transfer_target     text CHECK (char_length(transfer_target) <= 80),
    transferred_at      timestamptz,
    ended_at            timestamptz NOT NULL,
    hangup_by           text NOT NULL
                        CHECK (hangup_by IN ('caller', 'advisor', 'transfer_target', 'system', 'unknown')),
    hangup_cause        integer,
    hangup_cause_text   text CHECK (char_length(hangup_cause_text) <= 80),
    wait_seconds        double precision,
    talk_seconds        double precision,
    status              text NOT NULL
                        CHECK (status IN ('answered', 'abandoned', 'abandoned_ringing', 'closed', 'failed')),
    reconstructed       boolean NOT NULL DEFAULT false,

    -- Qualification (advisor desk); all nullable, never written by the PBX upsert
    topic               text CHECK (char_length(topic) <= 100),
    subtopic            text CHECK (char_length(subtopic) <= 100),
    outcome             text CHECK (char_length(outcome) <= 100),
    transfer_service    text CHECK (char_length(transfer_service) <= 100),
    callback_requested  boolean,
    callback_slot       text CHECK (char_length(callback_slot) <= 100),
    commune_insee       char(5) CHECK (commune_insee ~ '^[0-9][0-9AB][0-9]{3}$'),
    note                text CHECK (char_length(note) <= 2000),
    qualified_at        timestamptz,
    qualified_by        text CHECK (char_length(qualified_by) <= 200),

    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX call_records_arrived_at_idx ON call_records (arrived_at);
CREATE INDEX call_records_caller_number_idx ON call_records (caller_number);
CREATE INDEX call_records_status_idx ON call_records (status);
