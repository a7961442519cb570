-- The directory: one table of organisations, the département's own services (transfer targets, kind
-- 'service') and its partners (town halls, CAF, CPAM, MDPH, préfecture…), with their phones, the territory
-- each serves, and the history of every change. The `services` table of 0004 folds into it: each service
-- becomes an organisation of kind 'service' with the same id (call_records.transfer_service_id keeps
-- pointing at it), and `services` becomes a view of them for the readers of 0004's columns.
-- Values are checked by screenpop.directory (kinds, topics, hours); the checks here are the backstop.

-- Lowercase, accents and ligatures removed, every other run of characters one space: storage.communes.normalise
-- in SQL (the embedded PostgreSQL has no `unaccent`; `lower` alone folds only ASCII under the C locale).
CREATE FUNCTION directory_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(
        lower(translate(
            replace(replace(replace(replace(replace(value, 'œ', 'oe'), 'Œ', 'oe'), 'æ', 'ae'), 'Æ', 'ae'), 'ß', 'ss'),
            -- every letter of Latin-1 and Latin Extended-A/B whose decomposition is an ASCII letter and accents
            'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ',
            'aaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeegggggggghhiiiiiiiiijjkkllllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzsoouuaaiioouuuuuuuuuuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooooooyy')),
        '[^a-z0-9]+', ' ', 'g'));
$$;

CREATE TABLE organisations (
    id                  bigserial PRIMARY KEY,
    kind                text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{1,39}$'),  -- screenpop.directory.models.Kind
    name                text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200 AND btrim(name) <> ''),
    -- who keeps the entry up to date (a login or a team), and where it came from
    owner               text NOT NULL CHECK (char_length(owner) BETWEEN 1 AND 100),
    source              text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'csv', 'dila', 'demo')),
    -- a stable key from outside ("dila:<id>" for the DILA's offices, or chosen in a CSV): re-imports update
    ref                 text UNIQUE CHECK (char_length(ref) BETWEEN 1 AND 100),
    active              boolean NOT NULL DEFAULT true,
    -- internal services: the extension calls are transferred to, the desk topics handled, whom to escalate to
    extension           text CHECK (extension ~ '^[0-9]{2,10}$'),
    topics              text[] NOT NULL DEFAULT '{}'
                        CHECK (array_position(topics, NULL) IS NULL AND cardinality(topics) <= 100),
    escalation_contact  text CHECK (char_length(escalation_contact) <= 500),
    -- where it is
    street              text CHECK (char_length(street) <= 300),
    postal_code         text CHECK (postal_code ~ '^[0-9][0-9AB][0-9]{3}$'),
    city                text CHECK (char_length(city) <= 100),
    commune_insee       char(5) CHECK (commune_insee ~ '^[0-9][0-9AB][0-9]{3}$'),
    email               text CHECK (char_length(email) <= 254),
    website             text CHECK (char_length(website) <= 500),
    -- weekly spans in the line's time zone, {"mon": [["08:30", "12:00"], ["22:00", "02:00"]], …} (an end before
    -- its start runs past midnight), with its own exceptional dates; the line's public holidays apply.
    -- NULL: a service always open; a partner whose hours are not known.
    hours               jsonb CHECK (hours IS NULL OR jsonb_typeof(hours) = 'object'),
    closed_dates        date[] NOT NULL DEFAULT '{}' CHECK (array_position(closed_dates, NULL) IS NULL),
    open_dates          date[] NOT NULL DEFAULT '{}' CHECK (array_position(open_dates, NULL) IS NULL),
    public_note         text CHECK (char_length(public_note) <= 2000),  -- what to tell the caller
    staff_contact       text CHECK (char_length(staff_contact) <= 500),  -- never given to callers
    verified_on         date,  -- « vérifié le »
    version             integer NOT NULL DEFAULT 1 CHECK (version >= 1),  -- +1 at every change
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- what the accent-insensitive search looks into (kinds are matched by the application)
    search_text         text GENERATED ALWAYS AS (directory_fold(
                            name || ' ' || coalesce(city, '') || ' ' || coalesce(postal_code, '') || ' '
                            || coalesce(extension, ''))) STORED,
    CONSTRAINT organisations_service_extension CHECK (kind <> 'service' OR extension IS NOT NULL)
);

-- the transfer directory's rule of 0004: two services never share a name
CREATE UNIQUE INDEX organisations_service_name_key ON organisations (name) WHERE kind = 'service';
CREATE INDEX organisations_kind_idx ON organisations (kind);
CREATE INDEX organisations_commune_idx ON organisations (commune_insee);
-- the directory's search finds the communes a postal code names
CREATE INDEX communes_postal_codes_idx ON communes USING gin (postal_codes);

-- Phone numbers: E.164 (+33…) or a French short number (3230, 3646…); `public`: may be given to callers.
-- Indexed for the reverse look-up of a caller's number.
CREATE TABLE organisation_phones (
    organisation_id  bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    position         smallint NOT NULL CHECK (position BETWEEN 0 AND 19),
    number           text NOT NULL CHECK (number ~ '^(\+[1-9][0-9]{5,14}|[0-9]{3,6})$'),
    label            text CHECK (char_length(label) <= 100),
    public           boolean NOT NULL DEFAULT true,
    PRIMARY KEY (organisation_id, position)
);
CREATE INDEX organisation_phones_number_idx ON organisation_phones (number);

-- The territory an organisation serves: communes (INSEE), EPCI (SIREN), départements. An organisation with
-- none serves the commune where it is (a town hall, a CCAS).
CREATE TABLE organisation_territory (
    organisation_id  bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    scope            text NOT NULL CHECK (scope IN ('commune', 'epci', 'departement')),
    code             text NOT NULL CHECK (
        (scope = 'commune' AND code ~ '^[0-9][0-9AB][0-9]{3}$')
        OR (scope = 'epci' AND code ~ '^[0-9]{9}$')
        OR (scope = 'departement' AND code ~ '^[0-9][0-9AB][0-9]?$')),
    PRIMARY KEY (organisation_id, scope, code)
);
CREATE INDEX organisation_territory_code_idx ON organisation_territory (scope, code);

-- Every change of an entry: who, when, what (field → {"before": …, "after": …}). Append-only.
CREATE TABLE organisation_changes (
    id               bigserial PRIMARY KEY,
    organisation_id  bigint NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    at               timestamptz NOT NULL DEFAULT now(),
    actor            text NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 100),
    action           text NOT NULL CHECK (action IN ('create', 'update', 'deactivate', 'reactivate', 'import')),
    changes          jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'object')
);
CREATE INDEX organisation_changes_organisation_idx ON organisation_changes (organisation_id, id);

-- The services of 0004, same ids, same columns, one 'create' in their history.
INSERT INTO organisations (id, kind, name, owner, source, active, extension, topics, hours, created_at, updated_at)
SELECT id, 'service', name, 'admin', 'manual', active, extension, topics, hours, created_at, updated_at
FROM services;
INSERT INTO organisation_changes (organisation_id, at, actor, action, changes)
SELECT id, created_at, 'migration', 'create', jsonb_build_object('from', 'services (0004)') FROM organisations;
SELECT setval(pg_get_serial_sequence('organisations', 'id'), greatest((SELECT max(id) FROM organisations), 1),
              (SELECT count(*) > 0 FROM organisations));
DROP TABLE services;

-- 0004's table, as a view: the same columns, for the readers that still ask for them.
CREATE VIEW services AS
SELECT id, name, extension, topics, hours, active, created_at, updated_at
FROM organisations WHERE kind = 'service';

-- Who is calling: the organisation a caller's number (E.164) belongs to, or, for a number the network did
-- not give in full (an internal extension), the internal service with that extension. Internal services
-- first, then town halls, then other partners (a town hall and its CCAS often share a switchboard).
CREATE FUNCTION directory_caller(number text, raw text)
RETURNS TABLE (caller_kind text, organisation_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT CASE o.kind WHEN 'service' THEN 'internal' WHEN 'town_hall' THEN 'town_hall' ELSE 'partner' END, o.id
    FROM (
        SELECT o.id, o.kind FROM organisation_phones AS p JOIN organisations AS o ON o.id = p.organisation_id
        WHERE p.number = $1 AND o.active
        UNION ALL
        SELECT o.id, o.kind FROM organisations AS o
        WHERE $1 IS NULL AND o.kind = 'service' AND o.extension = btrim($2) AND o.active
    ) AS o
    ORDER BY o.kind = 'service' DESC, o.kind = 'town_hall' DESC, o.id
    LIMIT 1
$$;

-- The caller's kind, kept with the record for the statistics: classified when the record is first written,
-- against the directory of that moment (later versions of the record keep it). Records written before this
-- migration stay NULL (not classified); `gps-admin directory reclassify` classifies again on demand.
ALTER TABLE call_records
    ADD COLUMN caller_kind text CHECK (caller_kind IN ('citizen', 'town_hall', 'partner', 'internal')),
    ADD COLUMN caller_organisation_id bigint;  -- no foreign key, like transfer_service_id (0004)

CREATE FUNCTION call_records_classify_caller() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.caller_kind IS NULL THEN
        SELECT d.caller_kind, d.organisation_id INTO NEW.caller_kind, NEW.caller_organisation_id
        FROM directory_caller(NEW.caller_number, NEW.caller_number_raw) AS d;
        NEW.caller_kind := coalesce(NEW.caller_kind, 'citizen');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER call_records_classify_caller BEFORE INSERT ON call_records
FOR EACH ROW EXECUTE FUNCTION call_records_classify_caller();

CREATE INDEX call_records_caller_kind_idx ON call_records (caller_kind, arrived_at) WHERE caller_kind <> 'citizen';
