-- Statistics (issue 12): daily sums of the KPI dictionary, so that a month's or a year's report reads a few thousand
-- rows instead of every record. A local day (the line's time zone) is summed once it is over, by the same SQL as the
-- plain report (storage.statistics), per breakdown and key; a report adds the days' sums and computes the days not
-- summed (today, or a day changed since) from the records. The facts stay in call_records and advisor_events: these
-- tables can be emptied at any time (the sums are rebuilt). A bench checks the sums against the records.

-- the days summed, and with which thresholds and time zone (sums made with other ones are not read)
CREATE TABLE statistics_days (
    day         date PRIMARY KEY,
    thresholds  text NOT NULL CHECK (char_length(thresholds) <= 200),
    built_at    timestamptz NOT NULL DEFAULT now()
);

-- the presence log's seconds that day, per advisor, state and pause reason ('' for none): occupancy, time logged in
-- and in pause by reason
CREATE TABLE statistics_presence (
    day         date NOT NULL REFERENCES statistics_days (day) ON DELETE CASCADE,
    advisor_id  bigint NOT NULL,
    state       text NOT NULL CHECK (char_length(state) <= 20),
    reason      text NOT NULL CHECK (char_length(reason) <= 40),
    seconds     double precision NOT NULL
);
CREATE INDEX statistics_presence_day_idx ON statistics_presence (day);

-- the sums of a day per breakdown (dimension '' : the whole day) and key (NULL: « non renseigné »), named as
-- screenpop.statistics.kpis.Totals
CREATE TABLE statistics_rollups (
    day                   date NOT NULL REFERENCES statistics_days (day) ON DELETE CASCADE,
    dimension             text NOT NULL CHECK (char_length(dimension) <= 20),
    key                   text CHECK (char_length(key) <= 210),
    label                 text CHECK (char_length(label) <= 300),
    calls                 integer NOT NULL,
    offered               integer NOT NULL,
    closed                integer NOT NULL,
    answered              integer NOT NULL,
    abandoned             integer NOT NULL,
    short_abandoned       integer NOT NULL,
    failed                integer NOT NULL,
    answered_in_time      integer NOT NULL,
    answered_wait         double precision NOT NULL,
    abandoned_wait        double precision NOT NULL,
    talk                  double precision NOT NULL,
    hold                  double precision NOT NULL,
    wrap_up               double precision NOT NULL,
    wrapped_up            integer NOT NULL,
    transfers             integer NOT NULL,
    immediate_answers     integer NOT NULL,
    callbacks_requested   integer NOT NULL,
    repeat_calls          integer NOT NULL,
    unanswered_questions  integer NOT NULL
);
CREATE INDEX statistics_rollups_dimension_day_idx ON statistics_rollups (dimension, day);
CREATE INDEX statistics_rollups_day_idx ON statistics_rollups (day);

-- Days whose facts changed since they were summed. Marked by triggers, with a margin that holds for any time zone
-- within a day of UTC: a record marks the day before its UTC date to the 8th day after (a caller's next calls within
-- the repeat window read it), a presence change or a question without an answer the days around its date.
CREATE TABLE statistics_dirty_days (
    day  date PRIMARY KEY
);

CREATE FUNCTION statistics_mark_days(at timestamptz, before integer, after integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO statistics_dirty_days (day)
    SELECT d::date FROM generate_series((at AT TIME ZONE 'UTC')::date - before,
                                        (at AT TIME ZONE 'UTC')::date + after, interval '1 day') AS d
    ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION statistics_record_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM statistics_mark_days(OLD.arrived_at, 1, 8);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF TG_OP = 'INSERT' OR NEW.arrived_at IS DISTINCT FROM OLD.arrived_at THEN
            PERFORM statistics_mark_days(NEW.arrived_at, 1, 8);
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER statistics_record_changed AFTER INSERT OR UPDATE OR DELETE ON call_records
    FOR EACH ROW EXECUTE FUNCTION statistics_record_changed();

CREATE FUNCTION statistics_presence_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM statistics_mark_days(NEW.at, 1, 1);
    RETURN NEW;
END $$;

CREATE TRIGGER statistics_presence_changed AFTER INSERT ON advisor_events
    FOR EACH ROW EXECUTE FUNCTION statistics_presence_changed();

CREATE FUNCTION statistics_question_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    arrived timestamptz;
BEGIN
    SELECT c.arrived_at INTO arrived FROM call_records AS c
    WHERE c.linkedid = CASE WHEN TG_OP = 'DELETE' THEN OLD.linkedid ELSE NEW.linkedid END;
    IF arrived IS NOT NULL THEN
        PERFORM statistics_mark_days(arrived, 1, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER statistics_question_changed AFTER INSERT OR DELETE ON knowledge_unanswered
    FOR EACH ROW EXECUTE FUNCTION statistics_question_changed();
