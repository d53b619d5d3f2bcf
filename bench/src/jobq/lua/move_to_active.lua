-- MOVE_TO_ACTIVE: moves the first tasks of an apalis schedule to its active list, whether due
-- or not (the drain benchmark schedules its tasks ahead so that no worker promotes them early).
--
-- KEYS[1]  the apalis schedule, `<q>:scheduled`
-- KEYS[2]  the apalis active list, `<q>:active`
-- ARGV[1]  chunk: at most this many move, lowest scores first
--
-- Returns how many tasks moved.

local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return 0 end
redis.call('RPUSH', KEYS[2], unpack(ids))
redis.call('ZREM', KEYS[1], unpack(ids))
return #ids
