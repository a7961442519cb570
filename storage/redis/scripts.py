"""Every Lua script the service runs in Redis (called through `storage.redis.rounds.Rounds`)."""

from __future__ import annotations

# -- desk messages (storage.redis.desk) --------------------------------------------------------------------

# Keep pending, then publish: one command (was a MULTI of HSET, EXPIRE, PUBLISH), atomic all the same. The
# advisor's current call is kept too (its pop and the latest message of each kind), so that a desk page opened
# again during or after the call shows it (`/api/desk`), acknowledged or not, until it is qualified.
# KEYS[1] pending hash, KEYS[2] current-call hash; ARGV: message id, payload, TTL (s), channel, type, linkedid.
PUBLISH = """
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('expire', KEYS[1], ARGV[3])
if ARGV[5] == 'pop' then
  redis.call('del', KEYS[2])
  redis.call('hset', KEYS[2], 'linkedid', ARGV[6], 'pop', ARGV[2])
  redis.call('expire', KEYS[2], ARGV[3])
elseif redis.call('hget', KEYS[2], 'linkedid') == ARGV[6] then
  redis.call('hset', KEYS[2], ARGV[5], ARGV[2])
end
return redis.call('publish', ARGV[4], ARGV[2])
"""

# Forget the advisor's current call once it is qualified. KEYS[1] the current-call hash, ARGV[1] the call.
CALL_DONE = """
if redis.call('hget', KEYS[1], 'linkedid') == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

# Take an acknowledged message out of its pending hash; returns its payload (nil: it was not pending).
# KEYS[1] the pending hash, ARGV[1] the message id.
ACKNOWLEDGE = """
local payload = redis.call('hget', KEYS[1], ARGV[1])
if payload then redis.call('hdel', KEYS[1], ARGV[1]) end
return payload
"""

# Publish presence messages: ARGV holds (channel, payload) pairs. One command for a whole step's changes.
PRESENCE = """
for i = 1, #ARGV, 2 do redis.call('publish', ARGV[i], ARGV[i + 1]) end
return #ARGV / 2
"""

# -- routing (storage.redis.claims, storage.redis.lease) ---------------------------------------------------

# Claims are fenced by the lease: only the instance holding the lease may claim, and a claim is worth something only
# for the lease's current epoch (each new leader makes a new epoch, `LEASE`). A claim left by an earlier leader (a
# process killed right after an offer: its claims live `claim_ttl`, and only it could release them) is ignored and
# replaced, so a new leader routes at once instead of waiting for the old claims to expire (issue 11, item 14).
# KEYS: call, advisor, lease, epoch; ARGV: holder, TTL (ms). Returns -1 when `holder` does not hold the lease, 0 when
# the call or the advisor is claimed in this epoch, 1 when claimed, 2 when claimed over an earlier leader's claim.
CLAIM = """
if redis.call('get', KEYS[3]) ~= ARGV[1] then return -1 end
local live = (redis.call('get', KEYS[4]) or '0') .. '/' .. ARGV[1]
local stale = 0
for i = 1, 2 do
  local held = redis.call('get', KEYS[i])
  if held == live then return 0 end
  if held then stale = 1 end
end
redis.call('set', KEYS[1], live, 'PX', ARGV[2])
redis.call('set', KEYS[2], live, 'PX', ARGV[2])
return 1 + stale
"""

# Delete the claims `holder` took (in any epoch: the value ends with '/<holder>'), leaving others' alone.
# KEYS: the claims; ARGV[1] the holder.
RELEASE_CLAIM = """
local suffix = '/' .. ARGV[1]
local n = 0
for _, key in ipairs(KEYS) do
  local held = redis.call('get', key)
  if held and string.sub(held, -#suffix) == suffix then n = n + redis.call('del', key) end
end
return n
"""

# Delete the keys we hold (others' are left alone). ARGV[1] the holder.
RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then n = n + redis.call('del', key) end
end
return n
"""

# Take or extend the lease; returns 1 while we hold it. Taking a free lease starts a new epoch (claims of earlier
# epochs no longer count, `CLAIM`). KEYS[1] the lease, KEYS[2] its epoch; ARGV: holder, TTL (ms).
LEASE = """
local holder = redis.call('get', KEYS[1])
if holder == false then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('incr', KEYS[2])
  return 1
elseif holder == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# -- login throttling (storage.redis.throttle) -------------------------------------------------------------

# Count one login attempt for the login and for the client address, then check both limits, atomically and before
# any password is checked: parallel attempts cannot all pass a check made before any of them is counted (issue 11,
# item 1). A counter's window starts at its first attempt. KEYS: the login's counter, the address's; ARGV: window
# (ms), the login's limit, the address's limit. Returns 1 when the attempt is refused (either past its limit).
LOGIN_ATTEMPT = """
local refused = 0
for i, key in ipairs(KEYS) do
  redis.call('set', key, 0, 'PX', ARGV[1], 'NX')
  if redis.call('incr', key) > tonumber(ARGV[i + 1]) then refused = 1 end
end
return refused
"""

# A login that succeeded: its login's counter ends, and its attempt is given back to the address (an office behind
# one address does not use up its budget by logging in). KEYS: the login's counter, the address's.
LOGIN_SUCCEEDED = """
redis.call('del', KEYS[1])
if tonumber(redis.call('get', KEYS[2]) or '0') > 0 then redis.call('decr', KEYS[2]) end
return 1
"""

# -- signing keys (storage.redis.signing) ----------------------------------------------------------------

# The key stored at KEYS[1], made from ARGV[1] the first time it is asked for (every instance then signs alike).
SIGNING_KEY = """
local key = redis.call('get', KEYS[1])
if key then return key end
redis.call('set', KEYS[1], ARGV[1])
return ARGV[1]
"""
