-- A qualification saved while its call is still in progress (during the conversation, or after a transfer while
-- the service still talks with the caller): the call's record is written only when the call ends. It waits here
-- and joins the record in the transaction that writes the record (apply_pending_qualifications, called by
-- storage.calls). Columns as call_records' qualification columns, checked by storage.qualification.
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

-- The lock that orders a qualification saved for a call and the writing of that call's record: whichever comes
-- second sees the other (the saver finds the record, or the writer finds the pending qualification).
CREATE FUNCTION qualification_lock(linkedid text) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended('gps:qualification:' || linkedid, 0) $$;

-- Called right after the records `ids` are written, in the same transaction. Each statement of a PL/pgSQL
-- function takes a new snapshot: the pending rows are read after the locks are held.
CREATE FUNCTION apply_pending_qualifications(ids text[]) RETURNS integer
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    applied integer;
BEGIN
    PERFORM pg_advisory_xact_lock(qualification_lock(id)) FROM unnest(ids) AS id ORDER BY id;
    WITH p AS (DELETE FROM pending_qualifications WHERE linkedid = ANY (ids) RETURNING *)
    UPDATE call_records AS cr SET
        topic = p.topic, subtopic = p.subtopic, outcome = p.outcome,
        transfer_service_id = p.transfer_service_id, transfer_service = p.transfer_service, partner = p.partner,
        callback_requested = p.callback_requested, callback_slot = p.callback_slot,
        commune_insee = p.commune_insee, note = p.note,
        qualified_at = p.qualified_at, qualified_by = p.qualified_by, updated_at = now()
    FROM p
    WHERE cr.linkedid = p.linkedid;
    GET DIAGNOSTICS applied = ROW_COUNT;
    RETURN applied;
END
$$;
