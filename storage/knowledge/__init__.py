"""The knowledge base's SQL (migration 0011): articles and revisions, search, the loop fed by the calls."""
