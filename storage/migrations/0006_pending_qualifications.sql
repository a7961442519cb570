-- A qualification saved while its call is still in progress (during the conversation, or after a transfer while
-- the service still talks with the caller): the call's record is written only when the call ends. It waits here
-- and joins the record once both exist (storage.calls.APPLY_PENDING, run by the record's writer after writing
-- it and by the saver after saving here). Columns as call_records' qualification columns, checked by
-- storage.qualification.
CREATE TABLE pending_qualifications (
    linkedid             text PRIMARY KEY CHECK (char_length(linkedid) BETWEEN 1 AND 64),
    advisor_interface    text CHECK (char_length(advisor_interface) <= 200),  -- whose call it is
    topic                text NOT NULL CHECK (char_length(topic) <= 100),
    subtopic             text CHECK (char_length(subtopic) <= 100),
    outcome              text NOT NULL CHECK (
        outcome IN ('immediate_answer', 'advice', 'transfer', 'partner_contact', 'callback_needed', 'other')),
    transfer_service_id  bigint,
    transfer_service     text CHECK (char_length(transfer_service) <= 100),
    partner              text CHECK (char_length(partner) BETWEEN 1 AND 100),
    callback_requested   boolean NOT NULL,
    callback_slot        text CHECK (char_length(callback_slot) <= 100),
    commune_insee        char(5) CHECK (commune_insee ~ '^[0-9][0-9AB][0-9]{3}$'),
    note                 text CHECK (char_length(note) <= 2000),
    qualified_at         timestamptz NOT NULL DEFAULT now(),
    qualified_by         text NOT NULL CHECK (char_length(qualified_by) <= 200)
);
