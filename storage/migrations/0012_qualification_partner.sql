-- The partner whose contact was given is an organisation of the directory (0010): `partner_id` is its id, and
-- `partner` keeps its name as it was when the call was qualified (as `transfer_service` keeps a service's name).
-- Records qualified before this migration keep their `partner` as it was, a key of settings.desk.partners
-- ('caf', 'mdph'…) with `partner_id` NULL: readers show the key's label (screenpop.calls.service). No foreign key,
-- like transfer_service_id (0004): an organisation is never deleted, only deactivated.
ALTER TABLE call_records ADD COLUMN partner_id bigint;
ALTER TABLE pending_qualifications ADD COLUMN partner_id bigint;

-- A recognised caller's pop shows the recent calls of its commune (its town hall and CCAS) or of the partner:
-- looked up by the caller's organisation (classified by 0010's trigger).
CREATE INDEX call_records_caller_organisation_idx ON call_records (caller_organisation_id, arrived_at DESC)
    WHERE caller_organisation_id IS NOT NULL;
