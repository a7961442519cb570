"""Redis, in one place: every key and channel name (`names`), every Lua script (`scripts`), the rounds that carry
the script calls (`rounds`), and the adapters the rest of the service reaches Redis through (lease, claims,
router commands, desk messages, sessions, login throttle)."""
