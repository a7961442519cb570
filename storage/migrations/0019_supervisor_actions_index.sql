-- The supervisors' actions of a period (issue 12 item 7, the statistics report): the presence log's rows that a
-- supervisor made (`by_login`, migration 0015) are a handful a day among tens of thousands; a report reads them by
-- time without scanning the whole period's log (a year: ~13 million rows in bench.stats).
CREATE INDEX advisor_events_by_supervisor_idx ON advisor_events (at) WHERE by_login IS NOT NULL;
