-- The knowledge search and import, faster, same results (issue 14, item 4; bench/knowledge.py, bench/README.md).
--
-- 1. The ranking vector kept in the row:
-- 0011 meant `rank_vector` (the small vector of an article's beginning that `ts_rank` reads for every match) to
-- stay in the row, but its storage was tsvector's default, EXTENDED: when a row is still over the toaster's 2 kB
-- target once the long columns are moved out (a fiche with a long summary, a title, breadcrumb, link…), the
-- toaster moves `rank_vector` out too, and ranking the thousands of matches of a common word then reads it from
-- the TOAST table (« rsa » on the bench's corpus: 3,677 more buffers read for its 4,713 matches). MAIN keeps it in
-- the row, uncompressed unless the row cannot fit otherwise. The column is defined again so that every row is
-- rewritten with the new storage (ALTER … SET STORAGE alone only applies to rows written later); same expression,
-- same values, so the ranking is unchanged.
ALTER TABLE knowledge_articles
    DROP COLUMN rank_vector,
    ADD COLUMN rank_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('french'::regconfig, gps_fold(title)), 'A')
        || setweight(to_tsvector('french'::regconfig, gps_fold(topic_text)), 'B')
        || setweight(to_tsvector('french'::regconfig, gps_fold(left(summary, 300))), 'C')
        || setweight(to_tsvector('french'::regconfig, gps_fold(left(body_text, 400))), 'D')
    ) STORED,
    ALTER COLUMN rank_vector SET STORAGE MAIN;

-- 2. The vocabulary's words of an article (0011's knowledge_words_of, the same set) for a third less work: 0011 folded
-- the whole text, then split it; `gps_fold`'s translate() compares each character with every letter of its table
-- (90), which made folding half of the statement triggers' time on a fiches import. Here the lowercased text is
-- split on what is neither a letter or digit nor a letter that folds to letters (the table less ’, which folds to
-- an apostrophe, a separator either way; œ, æ, ß), and only each distinct piece is folded: the same pieces, folded
-- the same (462 fiches: 1.5 s → 1.0 s; tests/integration/test_knowledge_search.py compares the two on a corpus).
CREATE OR REPLACE FUNCTION knowledge_words_of(title text, summary text, topic_text text, body_text text)
    RETURNS SETOF text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT f
    FROM (SELECT DISTINCT w
          FROM regexp_split_to_table(
              lower(concat_ws(' ', title, summary, topic_text, body_text)),
              '[^a-z0-9àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏőŕŗřśŝşšţťũūŭůűųŵŷźżžđłøıħŀœæß]+'
          ) AS w) AS pieces,
         gps_fold(pieces.w) AS f
    WHERE length(f) BETWEEN 3 AND 40
$$;

-- 3. The vocabulary's counts, a fifth less work: 0011 upserted every word of a statement through ON CONFLICT, computing
-- the trigrams of each (« known » words included: 9 in 10 after the first batch of an import) and taking the costly
-- conflict path for each known one; now the known words are updated, and only the new ones get their trigrams
-- (462 fiches' 10 statements: 1.03 s → 0.80 s of CPU; the same rows, compared on them). A word another writer adds
-- meanwhile still goes through ON CONFLICT; the known words are locked in word order first, as 0011's insert did.
CREATE OR REPLACE FUNCTION knowledge_vocabulary_apply(delta_words text[], deltas integer[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    -- the words already known, locked in word order (as the insert below: two writers never wait on each other
    -- in opposite orders)
    PERFORM 1 FROM knowledge_words WHERE word = ANY (delta_words) ORDER BY word FOR NO KEY UPDATE;
    WITH d AS (
        SELECT w, n FROM unnest(delta_words, deltas) AS t (w, n) WHERE n <> 0
    ), known AS (
        UPDATE knowledge_words AS kw SET ndoc = kw.ndoc + d.n FROM d WHERE kw.word = d.w RETURNING kw.word
    ), fresh AS (
        SELECT d.w, d.n, gps_trigrams(d.w) AS tg
        FROM d WHERE NOT EXISTS (SELECT 1 FROM known WHERE known.word = d.w) ORDER BY d.w
    ), up AS (
        INSERT INTO knowledge_words AS kw (word, ndoc, ntrgm)
        SELECT w, n, cardinality(tg) FROM fresh
        ON CONFLICT (word) DO UPDATE SET ndoc = kw.ndoc + EXCLUDED.ndoc  -- a word another writer just added
        RETURNING id, word, (xmax = 0) AS inserted
    )
    INSERT INTO knowledge_trigrams (trigram, len, word_id)
    SELECT t, length(up.word), up.id FROM up JOIN fresh ON fresh.w = up.word, unnest(fresh.tg) AS t WHERE up.inserted;
    DELETE FROM knowledge_words WHERE ndoc <= 0 AND word = ANY (delta_words);
END $$;
