-- SPOOL_RELEASE_LOCK: deletes the replay lock if the caller holds it (compare-and-delete).
--
-- KEYS[1]  the lock, `{p}:history-spool:lock` (value: the holder's token)
-- ARGV[1]  the caller's token
--
-- Returns 1 when released, 0 when the lock is another holder's or gone.

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
