-- The statistics' daily rollup (storage.statistics_rollup): for each ended day of the line (its time zone), the sums of
-- storage.statistics (kpis.Totals) of the whole day and of each group of each breakdown, so that a month's or a year's
-- report sums a few thousand rows instead of scanning hundreds of thousands of records (bench/stats: measured, and
-- checked equal to a plain recomputation over the raw records).
-- A day's rows are built from the records with the thresholds and time zone of `call_stats_rollup` (another setting:
-- everything is built again). A change to call_records (a record written late, a qualification saved or corrected)
-- or to knowledge_unanswered marks its days stale (`call_stats_stale`, by statement triggers: cheap under COPY); the
-- reader rebuilds the stale days of a period before reading it. A record changes the « repeat caller » flag of the same
-- number's calls of the next `repeat_days` days: those days are marked too.

CREATE TABLE call_stats_rollup (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    timezone        text NOT NULL,
    settings        text NOT NULL,  -- the thresholds the sums were built with (storage.statistics_rollup.signature)
    repeat_days     integer NOT NULL CHECK (repeat_days BETWEEN 1 AND 366)
);

CREATE TABLE call_stats_daily (
    day                   date NOT NULL,
    dimension             text NOT NULL CHECK (char_length(dimension) <= 40),  -- '': the whole day
    key                   text,  -- NULL: « non renseigné »
    label                 text,
    calls                 bigint NOT NULL,
    offered               bigint NOT NULL,
    closed                bigint NOT NULL,
    answered              bigint NOT NULL,
    abandoned             bigint NOT NULL,
    short_abandoned       bigint NOT NULL,
    failed                bigint NOT NULL,
    answered_in_time      bigint NOT NULL,
    answered_wait         double precision NOT NULL,
    abandoned_wait        double precision NOT NULL,
    talk                  double precision NOT NULL,
    hold                  double precision NOT NULL,
    wrap_up               double precision NOT NULL,
    wrapped_up            bigint NOT NULL,
    transfers             bigint NOT NULL,
    immediate_answers     bigint NOT NULL,
    callbacks_requested   bigint NOT NULL,
    repeat_calls          bigint NOT NULL,
    unanswered_questions  bigint NOT NULL
);
CREATE INDEX call_stats_daily_day_idx ON call_stats_daily (day, dimension);

-- The days built (with no call: a row here and none in call_stats_daily) and the days to build again.
CREATE TABLE call_stats_days (day date PRIMARY KEY);
CREATE TABLE call_stats_stale (day date PRIMARY KEY);

-- The days a set of records touches: their local day, and the days after it within the repeat window. Nothing
-- before a rollup was first built. (`jit = off`: planned for arrays of unknown size, the statement's estimate would
-- otherwise make PostgreSQL compile it, a third of a second at every record written.)
CREATE FUNCTION call_stats_mark(arrivals timestamptz[]) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    zone text;
    window_days integer;
BEGIN
    SELECT r.timezone, r.repeat_days INTO zone, window_days FROM call_stats_rollup AS r;
    IF NOT FOUND OR arrivals IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO call_stats_stale (day)
    SELECT DISTINCT (a AT TIME ZONE zone)::date + k
    FROM unnest(arrivals) AS a CROSS JOIN generate_series(0, window_days) AS k
    WHERE a IS NOT NULL
    ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION call_stats_records_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM call_stats_mark(ARRAY(SELECT DISTINCT date_trunc('hour', n.arrived_at) FROM new_rows AS n));
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM call_stats_mark(ARRAY(SELECT DISTINCT date_trunc('hour', o.arrived_at) FROM old_rows AS o));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER call_stats_records_inserted AFTER INSERT ON call_records
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION call_stats_records_changed();
CREATE TRIGGER call_stats_records_updated AFTER UPDATE ON call_records
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION call_stats_records_changed();
CREATE TRIGGER call_stats_records_deleted AFTER DELETE ON call_records
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION call_stats_records_changed();

-- « unanswered questions » come from the knowledge base's table: its rows mark their call's day.
CREATE FUNCTION call_stats_unanswered_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM call_stats_mark(ARRAY(
            SELECT c.arrived_at FROM new_rows AS n JOIN call_records AS c ON c.linkedid = n.linkedid));
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM call_stats_mark(ARRAY(
            SELECT c.arrived_at FROM old_rows AS o JOIN call_records AS c ON c.linkedid = o.linkedid));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER call_stats_unanswered_inserted AFTER INSERT ON knowledge_unanswered
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION call_stats_unanswered_changed();
CREATE TRIGGER call_stats_unanswered_deleted AFTER DELETE ON knowledge_unanswered
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION call_stats_unanswered_changed();

-- The presence log's seconds of each built day (storage.statistics presence: logged in, paused, busy), each state's
-- span cut at the day's bounds, so that a period's seconds are the sum of its days'. An event recorded for a past
-- day (the log is append-only: normally now) marks that day and the day before stale.
CREATE TABLE call_presence_daily (
    day        date PRIMARY KEY,
    logged_in  double precision NOT NULL,
    paused     double precision NOT NULL,
    busy       double precision NOT NULL
);

-- The presence seconds of a period (storage.statistics presence) read the log's changes by time, every advisor at
-- once: without this index each read scans the whole log (40 million rows in bench/stats: seconds per day).
CREATE INDEX advisor_events_at_idx ON advisor_events (at);

CREATE FUNCTION call_stats_events_changed() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    INSERT INTO call_stats_stale (day)
    SELECT DISTINCT (date_trunc('hour', n.at) AT TIME ZONE r.timezone)::date + k
    FROM new_rows AS n, call_stats_rollup AS r, generate_series(-1, 0) AS k
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER call_stats_events_inserted AFTER INSERT ON advisor_events
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION call_stats_events_changed();
