-- The advisor desk: communes (reference data, loaded by storage.communes, never by this migration),
-- the département's services (transfer directory, managed with `gps-admin services`), and the
-- qualification columns call_records was still missing.

-- Every current commune of France (Etalab — découpage administratif, Licence Ouverte). Reloaded in place
-- by `gps-admin communes load`; nothing references it with a foreign key (codes are checked in code).
CREATE TABLE communes (
    code_insee        char(5) PRIMARY KEY CHECK (code_insee ~ '^[0-9][0-9AB][0-9]{3}$'),
    name              text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- lowercase, accents removed, every non-alphanumeric run made one space: prefix search
    search_name       text NOT NULL CHECK (search_name ~ '^[a-z0-9]+( [a-z0-9]+)*$'),
    departement       text NOT NULL CHECK (departement ~ '^[0-9][0-9AB][0-9]?$'),
    departement_name  text NOT NULL CHECK (char_length(departement_name) <= 100),
    epci_siren        text CHECK (epci_siren ~ '^[0-9]{9}$'),
    epci_name         text CHECK (char_length(epci_name) <= 200),
    postal_codes      text[] NOT NULL DEFAULT '{}' CHECK (array_position(postal_codes, NULL) IS NULL),
    population        integer CHECK (population >= 0)
);

CREATE INDEX communes_search_name_idx ON communes (search_name text_pattern_ops);
CREATE INDEX communes_departement_idx ON communes (departement);

-- The département's services an advisor can transfer a call to.
CREATE TABLE services (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100 AND btrim(name) <> ''),
    extension   text NOT NULL CHECK (extension ~ '^[0-9]{2,10}$'),
    -- keys of settings.desk.topics (checked by the application: the configuration lives outside the DB)
    topics      text[] NOT NULL DEFAULT '{}' CHECK (array_position(topics, NULL) IS NULL AND cardinality(topics) <= 100),
    -- weekly spans in Europe/Paris time, {"mon": [["08:30", "17:00"]], …}; NULL: always open
    hours       jsonb CHECK (hours IS NULL OR jsonb_typeof(hours) = 'object'),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT services_name_key UNIQUE (name)
);

-- Qualification: the partner whose contact was given, the service (id; `transfer_service` keeps its
-- name as it was), outcomes restricted to screenpop.models.Outcome. Notes stay at most 2000 characters
-- (0001). No foreign key on commune_insee nor transfer_service_id: checked by storage.qualification.
ALTER TABLE call_records
    ADD COLUMN partner text CHECK (char_length(partner) BETWEEN 1 AND 100),  -- a key of settings.desk.partners
    ADD COLUMN transfer_service_id bigint,
    ADD CONSTRAINT call_records_outcome_known CHECK (
        outcome IS NULL
        OR outcome IN ('immediate_answer', 'advice', 'transfer', 'partner_contact', 'callback_needed', 'other'));

CREATE INDEX call_records_caller_commune_idx ON call_records (caller_number, arrived_at DESC)
    WHERE commune_insee IS NOT NULL;
