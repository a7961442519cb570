-- The knowledge search's ranking vector kept in the row (issue 14, item 4's performance; bench/knowledge.py).
--
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
