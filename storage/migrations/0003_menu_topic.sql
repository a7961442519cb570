-- The caller's voice-menu choice (a PBX fact, distinct from the advisor's qualification `topic`).
ALTER TABLE call_records ADD COLUMN menu_topic text CHECK (menu_topic IS NULL OR char_length(menu_topic) <= 40);
