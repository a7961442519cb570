-- The presence seconds of a period (storage.statistics: presence_rows, and the daily sums of 0014 built from it) read
-- the log's changes by time, every advisor at once: without this index each read scans the whole log (bench/stats:
-- 40 million rows, seconds for each day summed).
CREATE INDEX advisor_events_at_idx ON advisor_events (at);
