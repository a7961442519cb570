-- The drill-down's indexes (issue 12, the calls behind a figure): a page of a group's calls is read in arrival order
-- from the group's own index and stops after the page (storage.statistics.drill_sql), instead of filtering every
-- record of the period. The other caller kinds' is 0010's (0013's advisor index holds the answered calls only: a
-- drill-down lists every call of the advisor); the period alone and the common figures (abandons, answered, …) read
-- call_records_arrived_at_idx. Partial where most records have no value. Built in the migration's transaction
-- (writes to call_records wait meanwhile): the time on the bench's database is in bench/README.md, `bench.drilldown`.
CREATE INDEX call_records_commune_arrived_idx ON call_records (commune_insee, arrived_at);
CREATE INDEX call_records_topic_arrived_idx ON call_records (topic, arrived_at);
CREATE INDEX call_records_service_arrived_idx ON call_records (transfer_service, arrived_at)
    WHERE transfer_service IS NOT NULL;
CREATE INDEX call_records_partner_arrived_idx ON call_records (partner, arrived_at) WHERE partner IS NOT NULL;
CREATE INDEX call_records_advisor_any_arrived_idx ON call_records (advisor_interface, arrived_at)
    WHERE advisor_interface IS NOT NULL;
-- A drill-down's count is its figure's sum (screenpop.statistics.service.count): one group's daily rows, not the
-- breakdown's (a year of communes: ~300,000 rows).
CREATE INDEX statistics_rollups_dimension_key_day_idx ON statistics_rollups (dimension, key, day);
