-- Hold time, recorded apart (issue 12 item 8): from Asterisk's Hold/Unhold events on the caller's or the
-- advisor's channel while they talk (telephony.calls). `hold_seconds` is the total time on hold, `hold_count` how
-- many times the conversation was put on hold. Hold spans lie within the talk, so talk_seconds includes
-- hold_seconds: net talk = talk_seconds - hold_seconds, and AHT = talk_seconds + wrap-up
-- = (talk_seconds - hold_seconds) + hold_seconds + wrap-up. Rows written before hold was recorded read 0.
ALTER TABLE call_records
    ADD COLUMN hold_seconds double precision NOT NULL DEFAULT 0 CHECK (hold_seconds >= 0 AND hold_seconds <= 86400),
    ADD COLUMN hold_count integer NOT NULL DEFAULT 0 CHECK (hold_count >= 0 AND hold_count <= 10000);

-- An advisor's calls of a day (the desk's « Ma journée », the reports by advisor): by the phone that answered.
CREATE INDEX call_records_advisor_arrived_idx ON call_records (advisor_interface, arrived_at)
    WHERE answered_at IS NOT NULL;
