-- Callbacks (issue 12, « rappels »): a callback exists once a qualification with « rappel demandé » is saved, in the
-- same transaction (storage.qualification; idempotent on the call's linkedid; unticked later: cancelled with a
-- reason). An advisor records each attempt to call the citizen back; an attempt that reached them ('joint') closes
-- the callback (done). No foreign key to call_records: a qualification saved while its call is still in progress
-- waits for its record (0006), and its callback is made then, its number read from the record once it exists.
CREATE TABLE callbacks (
    id             bigserial PRIMARY KEY,
    linkedid       text NOT NULL UNIQUE CHECK (char_length(linkedid) BETWEEN 1 AND 64),
    -- the number to call, as stored on the record (E.164 or what the PBX gave); NULL until the record exists
    caller_number  text CHECK (char_length(caller_number) <= 32),
    commune_insee  char(5) CHECK (commune_insee ~ '^[0-9][0-9AB][0-9]{3}$'),
    topic          text CHECK (char_length(topic) <= 100),
    subtopic       text CHECK (char_length(subtopic) <= 100),
    slot           text CHECK (char_length(slot) <= 100),  -- when the citizen asked to be called back
    requested_by   text NOT NULL CHECK (char_length(requested_by) BETWEEN 1 AND 200),
    created_at     timestamptz NOT NULL,  -- the qualification's save
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    done_at        timestamptz,
    cancelled_at   timestamptz,
    cancel_reason  text CHECK (char_length(cancel_reason) BETWEEN 1 AND 200),
    cancelled_by   text CHECK (char_length(cancelled_by) BETWEEN 1 AND 200),
    owner_login    text CHECK (char_length(owner_login) BETWEEN 1 AND 200),  -- who will call back (later: ownership)
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT callbacks_done_has_time CHECK ((status = 'done') = (done_at IS NOT NULL)),
    CONSTRAINT callbacks_cancel_has_reason CHECK (
        (status = 'cancelled') = (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL))
);

-- the open ones, oldest first (the /rappels page, the wallboard); a report's period by creation
CREATE INDEX callbacks_open_idx ON callbacks (created_at) WHERE status = 'open';
CREATE INDEX callbacks_created_at_idx ON callbacks (created_at);

CREATE TABLE callback_attempts (
    id           bigserial PRIMARY KEY,
    callback_id  bigint NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT now(),
    by_login     text NOT NULL CHECK (char_length(by_login) BETWEEN 1 AND 200),
    result       text NOT NULL CHECK (result IN ('joint', 'sans_reponse', 'messagerie', 'faux_numero')),
    note         text CHECK (char_length(note) BETWEEN 1 AND 500)
);

CREATE INDEX callback_attempts_callback_idx ON callback_attempts (callback_id, at);
