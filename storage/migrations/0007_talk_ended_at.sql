-- When the advisor's part of a call ended (hang-up or transfer): the record's durations are derived from its
-- stored times in one place (telephony.records.CallRecord: talk_seconds = (transferred_at, else talk_ended_at,
-- else ended_at) - answered_at), so a duration always equals the difference of the times beside it.
ALTER TABLE call_records ADD COLUMN talk_ended_at timestamptz;
-- Rows written before: the advisor's release recovered from the talk time stored with them.
UPDATE call_records SET talk_ended_at = answered_at + talk_seconds * interval '1 second'
WHERE answered_at IS NOT NULL AND talk_seconds IS NOT NULL;
