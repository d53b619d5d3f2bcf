-- SPOOL_RENEW_LOCK: extends the replay lock's life if the caller still holds it.
--
-- KEYS[1]  the lock, `{p}:history-spool:lock` (value: the holder's token)
-- ARGV[1]  the caller's token
-- ARGV[2]  the new life, ms
--
-- Returns 1 when renewed, 0 when the lock is another holder's or gone.

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
