-- The knowledge base (issue 14): articles written by the département's services (local) and the national
-- "Vos droits et démarches" fiches of service-public.fr (national, read-only), every revision of a local article,
-- the editors bound to a service, the French search (accent folding, a vocabulary with trigrams for typos), and the
-- loop fed by the calls (articles used, questions left without an answer).
--
-- Everything here is core PostgreSQL (15 and 16): the embedded server of the demo (pgserver) has no contrib
-- extension, so there is no unaccent nor pg_trgm; gps_fold() and the vocabulary below stand for them, on both.

-- -- editors: a role bound to the service they write for ---------------------------------------------------------
ALTER TABLE users
    DROP CONSTRAINT users_role_check,
    ADD CONSTRAINT users_role_check CHECK (role IN ('advisor', 'supervisor', 'admin', 'editor')),
    ADD COLUMN service_id bigint REFERENCES organisations (id) ON DELETE RESTRICT,
    ADD CONSTRAINT users_editor_service_check CHECK ((role = 'editor') = (service_id IS NOT NULL));

-- -- accent folding -----------------------------------------------------------------------------------------------
-- Lowercase, accents removed (Latin-1 and Latin Extended-A letters, as screenpop.knowledge.text.FOLD_FROM/FOLD_TO:
-- a unit test keeps the two equal), œ → oe, æ → ae, ß → ss, typographic apostrophe → '. IMMUTABLE: used by the
-- generated search vector. Both the documents and the queries are folded before the `french` configuration stems
-- them, as unaccent would do as a filter dictionary in front of french_stem.
CREATE FUNCTION gps_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN replace(replace(replace(translate(lower($1),
        'àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏőŕŗřśŝşšţťũūŭůűųŵŷźżžđłøıħ’ŀ',
        'aaaaaaceeeeiiiinooooouuuuyyaaaccccdeeeeegggghiiiijklllnnnooorrrssssttuuuuuuwyzzzdloih''l'),
        'œ', 'oe'), 'æ', 'ae'), 'ß', 'ss');

-- -- national sources: one row per import of a fiches file (the credit shows its date) ---------------------------
CREATE TABLE knowledge_sources (
    id           bigserial PRIMARY KEY,
    file_name    text NOT NULL CHECK (char_length(file_name) BETWEEN 1 AND 300),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    file_date    date NOT NULL,  -- the date of the file (its most recent fiche unless given)
    fiches       integer NOT NULL CHECK (fiches >= 0),
    created      integer NOT NULL CHECK (created >= 0),
    updated      integer NOT NULL CHECK (updated >= 0),
    unchanged    integer NOT NULL CHECK (unchanged >= 0),
    imported_by  text NOT NULL CHECK (char_length(imported_by) BETWEEN 1 AND 200),
    imported_at  timestamptz NOT NULL DEFAULT now()
);

-- -- articles -----------------------------------------------------------------------------------------------------
CREATE TABLE knowledge_articles (
    id               bigserial PRIMARY KEY,
    uid              uuid NOT NULL DEFAULT gen_random_uuid(),  -- stable across export/import
    kind             text NOT NULL CHECK (kind IN ('local', 'national')),
    service_id       bigint REFERENCES organisations (id) ON DELETE RESTRICT,  -- the owner of a local article
    fiche_id         text CHECK (fiche_id ~ '^[A-Z]{1,3}[0-9]{1,9}(-[0-9]{1,4})?$'),  -- a national fiche's id (F1000)
    title            text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 300 AND btrim(title) <> ''),
    summary          text NOT NULL DEFAULT '' CHECK (char_length(summary) <= 2000),
    body             text NOT NULL DEFAULT '' CHECK (char_length(body) <= 2000000),  -- Markdown
    body_text        text NOT NULL DEFAULT '' CHECK (char_length(body_text) <= 2000000),  -- plain text of body
    status           text NOT NULL CHECK (status IN ('draft', 'review', 'published', 'archived')),
    review_by        date,  -- « à revoir avant le »
    topics           text[] NOT NULL DEFAULT '{}' CHECK (array_position(topics, NULL) IS NULL AND cardinality(topics) <= 50),
    topic_text       text NOT NULL DEFAULT '' CHECK (char_length(topic_text) <= 4000),  -- the topics' labels
    linked_services  bigint[] NOT NULL DEFAULT '{}' CHECK (array_position(linked_services, NULL) IS NULL),
    linked_partners  text[] NOT NULL DEFAULT '{}' CHECK (array_position(linked_partners, NULL) IS NULL),
    linked_fiches    text[] NOT NULL DEFAULT '{}' CHECK (array_position(linked_fiches, NULL) IS NULL),
    example          boolean NOT NULL DEFAULT false,  -- demo content
    fiche_type       text CHECK (char_length(fiche_type) <= 100),
    fiche_date       date,  -- dateDerniereModificationImportante (else dc:date)
    source_url       text CHECK (source_url ~ '^https?://'),  -- the fiche's live page (spUrl)
    breadcrumb       text[] NOT NULL DEFAULT '{}',
    source_id        bigint REFERENCES knowledge_sources (id) ON DELETE RESTRICT,
    content_hash     text,  -- national: sha256 of what was imported (unchanged fiches are not rewritten)
    -- search rank multiplier: national forms, online services and navigation pages rank below the fiches that
    -- explain (screenpop.knowledge.fiches.rank_factor)
    rank_factor      real NOT NULL DEFAULT 1 CHECK (rank_factor > 0 AND rank_factor <= 1),
    revision         integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    uses             integer NOT NULL DEFAULT 0 CHECK (uses >= 0),  -- calls it helped (knowledge_usage_count)
    last_used_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL CHECK (char_length(updated_by) BETWEEN 1 AND 200),
    -- what a search matches: the whole article, folded, weighted (title A, topics' labels B, summary C, body D)
    search_vector    tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('french'::regconfig, gps_fold(title)), 'A')
        || setweight(to_tsvector('french'::regconfig, gps_fold(topic_text)), 'B')
        || setweight(to_tsvector('french'::regconfig, gps_fold(summary)), 'C')
        || setweight(to_tsvector('french'::regconfig, gps_fold(body_text)), 'D')
    ) STORED,
    -- what ranks it: the same over the article's beginning only (title, topics, summary, the body's first 400
    -- characters). Small (a few hundred bytes), it stays in the row uncompressed: ranking the thousands of
    -- matches of a common word then reads no long vector (10 times faster, bench/knowledge.py).
    rank_vector      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('french'::regconfig, gps_fold(title)), 'A')
        || setweight(to_tsvector('french'::regconfig, gps_fold(topic_text)), 'B')
        || setweight(to_tsvector('french'::regconfig, gps_fold(left(summary, 300))), 'C')
        || setweight(to_tsvector('french'::regconfig, gps_fold(left(body_text, 400))), 'D')
    ) STORED,
    CONSTRAINT knowledge_articles_uid_key UNIQUE (uid),
    CONSTRAINT knowledge_articles_fiche_id_key UNIQUE (fiche_id),
    CONSTRAINT knowledge_articles_owner_check CHECK ((kind = 'local') = (service_id IS NOT NULL)),
    CONSTRAINT knowledge_articles_fiche_check CHECK ((kind = 'national') = (fiche_id IS NOT NULL)),
    CONSTRAINT knowledge_articles_national_status CHECK (kind = 'local' OR status IN ('published', 'archived'))
);

CREATE INDEX knowledge_articles_search_idx ON knowledge_articles USING gin (search_vector);
CREATE INDEX knowledge_articles_service_idx ON knowledge_articles (service_id, status);
CREATE INDEX knowledge_articles_topics_idx ON knowledge_articles USING gin (topics);
CREATE INDEX knowledge_articles_review_idx ON knowledge_articles (review_by) WHERE status <> 'archived';

-- Every revision of a local article, with who and when: revision 1 is the creation; an edit, a status change or
-- an import adds one. The article row holds the latest.
CREATE TABLE knowledge_revisions (
    article_id  bigint NOT NULL REFERENCES knowledge_articles (id) ON DELETE CASCADE,
    revision    integer NOT NULL CHECK (revision >= 1),
    action      text NOT NULL CHECK (action IN ('create', 'edit', 'submit', 'publish', 'reject', 'archive', 'restore',
                                                'import')),
    title       text NOT NULL,
    summary     text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL,
    review_by   date,
    topics      text[] NOT NULL,
    author_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    author      text NOT NULL CHECK (char_length(author) BETWEEN 1 AND 200),  -- login or « import … », kept
    comment     text CHECK (char_length(comment) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, revision)
);

-- -- the loop: articles used on a call, questions left without an answer ----------------------------------------
-- Keyed by the call's linkedid, not tied to call_records: a qualification saved during the call (pending) records
-- them at once.
CREATE TABLE knowledge_call_articles (
    linkedid    text NOT NULL CHECK (char_length(linkedid) BETWEEN 1 AND 64),
    article_id  bigint NOT NULL REFERENCES knowledge_articles (id) ON DELETE CASCADE,
    used_by     text NOT NULL CHECK (char_length(used_by) <= 200),
    used_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (linkedid, article_id)
);
CREATE INDEX knowledge_call_articles_article_idx ON knowledge_call_articles (article_id);

CREATE TABLE knowledge_unanswered (
    linkedid             text PRIMARY KEY CHECK (char_length(linkedid) BETWEEN 1 AND 64),
    question             text NOT NULL CHECK (char_length(question) BETWEEN 3 AND 200),
    topic                text NOT NULL CHECK (char_length(topic) <= 100),
    subtopic             text CHECK (char_length(subtopic) <= 100),
    asked_by             text NOT NULL CHECK (char_length(asked_by) <= 200),
    asked_at             timestamptz NOT NULL DEFAULT now(),
    -- an editor answers it (with the article written for it) or sets it aside
    resolved_at          timestamptz,
    resolved_by          text CHECK (char_length(resolved_by) <= 200),
    resolved_article_id  bigint REFERENCES knowledge_articles (id) ON DELETE SET NULL
);
CREATE INDEX knowledge_unanswered_open_idx ON knowledge_unanswered (topic, asked_at) WHERE resolved_at IS NULL;
CREATE INDEX knowledge_unanswered_week_idx ON knowledge_unanswered (asked_at);

-- How often advisors used each article: `knowledge_articles.uses`, kept by trigger from knowledge_call_articles (the
-- facts). On the article's row, so ranking reads no other table; PostgreSQL 16 does not recompute the generated
-- vectors for an update that does not touch their columns (a use costs ~10 ms on the longest fiche, not 190).
CREATE FUNCTION knowledge_usage_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE knowledge_articles SET uses = uses + 1, last_used_at = greatest(last_used_at, NEW.used_at)
        WHERE id = NEW.article_id;
        RETURN NEW;
    END IF;
    UPDATE knowledge_articles SET uses = greatest(uses - 1, 0) WHERE id = OLD.article_id;
    RETURN OLD;
END $$;

CREATE TRIGGER knowledge_usage_count AFTER INSERT OR DELETE ON knowledge_call_articles
    FOR EACH ROW EXECUTE FUNCTION knowledge_usage_count();

-- -- typo tolerance without pg_trgm: the articles' vocabulary and its trigrams -----------------------------------
-- Every folded word (3 to 40 letters or digits) of the articles, with the number of articles holding it, and its
-- trigrams as pg_trgm makes them (the word padded with two spaces in front and one behind). A search term absent
-- from the vocabulary is widened to the closest words (trigram similarity, lengths within ±2): storage.knowledge.
-- Kept by statement triggers on knowledge_articles (a bulk import updates it once per statement).
CREATE TABLE knowledge_words (
    id     serial PRIMARY KEY,
    word   text NOT NULL CHECK (word ~ '^[a-z0-9]{3,40}$'),
    ndoc   integer NOT NULL,
    ntrgm  smallint NOT NULL,
    CONSTRAINT knowledge_words_word_key UNIQUE (word)
);

CREATE TABLE knowledge_trigrams (
    trigram  text NOT NULL,
    len      smallint NOT NULL,
    word_id  integer NOT NULL REFERENCES knowledge_words (id) ON DELETE CASCADE,
    PRIMARY KEY (trigram, len, word_id)
);
CREATE INDEX knowledge_trigrams_word_idx ON knowledge_trigrams (word_id);

CREATE FUNCTION gps_trigrams(text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ARRAY(SELECT DISTINCT substr('  ' || $1 || ' ', i, 3) FROM generate_series(1, length($1) + 1) AS i);

CREATE FUNCTION knowledge_words_of(title text, summary text, topic_text text, body_text text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT w
    FROM regexp_split_to_table(gps_fold(concat_ws(' ', title, summary, topic_text, body_text)), '[^a-z0-9]+') AS w
    WHERE length(w) BETWEEN 3 AND 40
$$;

CREATE FUNCTION knowledge_vocabulary_apply(delta_words text[], deltas integer[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        SELECT w, n FROM unnest(delta_words, deltas) AS t (w, n) WHERE n <> 0 ORDER BY w
    ), up AS (
        INSERT INTO knowledge_words AS kw (word, ndoc, ntrgm)
        SELECT w, n, cardinality(gps_trigrams(w)) FROM d
        ON CONFLICT (word) DO UPDATE SET ndoc = kw.ndoc + EXCLUDED.ndoc
        RETURNING id, word, (xmax = 0) AS inserted
    )
    INSERT INTO knowledge_trigrams (trigram, len, word_id)
    SELECT t, length(up.word), up.id FROM up, unnest(gps_trigrams(up.word)) AS t WHERE up.inserted;
    DELETE FROM knowledge_words WHERE ndoc <= 0 AND word = ANY (delta_words);
END $$;

CREATE FUNCTION knowledge_vocabulary_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM knowledge_vocabulary_apply(array_agg(w), array_agg(n))
    FROM (SELECT w, count(*)::integer AS n
          FROM new_rows AS r, knowledge_words_of(r.title, r.summary, r.topic_text, r.body_text) AS w
          GROUP BY w) AS d;
    RETURN NULL;
END $$;

CREATE FUNCTION knowledge_vocabulary_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM knowledge_vocabulary_apply(array_agg(w), array_agg(n))
    FROM (SELECT w, -count(*)::integer AS n
          FROM old_rows AS r, knowledge_words_of(r.title, r.summary, r.topic_text, r.body_text) AS w
          GROUP BY w) AS d;
    RETURN NULL;
END $$;

CREATE FUNCTION knowledge_vocabulary_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM knowledge_vocabulary_apply(array_agg(w), array_agg(n))
    FROM (SELECT w, sum(n)::integer AS n
          FROM (SELECT w, 1 AS n
                FROM new_rows AS r JOIN old_rows AS o USING (id),
                     knowledge_words_of(r.title, r.summary, r.topic_text, r.body_text) AS w
                WHERE (r.title, r.summary, r.topic_text, r.body_text)
                      IS DISTINCT FROM (o.title, o.summary, o.topic_text, o.body_text)
                UNION ALL
                SELECT w, -1 AS n
                FROM old_rows AS o JOIN new_rows AS r USING (id),
                     knowledge_words_of(o.title, o.summary, o.topic_text, o.body_text) AS w
                WHERE (r.title, r.summary, r.topic_text, r.body_text)
                      IS DISTINCT FROM (o.title, o.summary, o.topic_text, o.body_text)) AS changes
          GROUP BY w
          HAVING sum(n) <> 0) AS d;
    RETURN NULL;
END $$;

CREATE TRIGGER knowledge_vocabulary_insert AFTER INSERT ON knowledge_articles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_vocabulary_inserted();
CREATE TRIGGER knowledge_vocabulary_update AFTER UPDATE ON knowledge_articles
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_vocabulary_updated();
CREATE TRIGGER knowledge_vocabulary_delete AFTER DELETE ON knowledge_articles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_vocabulary_deleted();
