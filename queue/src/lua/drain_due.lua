-- DRAIN_DUE: moves one chunk of due tasks from a queue's schedule to its active list, once
-- more than a threshold are due.
--
-- apalis-redis 1.0's fetch promotes every due task with one `unpack`, which fails past Lua's
-- limit on unpacked values and wedges the queue; moving them in chunks first keeps it below.
--
-- KEYS[1]  the apalis schedule, `<q>:scheduled` (score: run time, unix seconds)
-- KEYS[2]  the apalis active list, `<q>:active`
-- ARGV[1]  now, unix seconds
-- ARGV[2]  threshold: nothing moves unless more than this many are due
-- ARGV[3]  chunk: at most this many move
--
-- Returns how many tasks moved (0 when at most the threshold were due).

local due = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1])
if due <= tonumber(ARGV[2]) then return 0 end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then return 0 end
redis.call('RPUSH', KEYS[2], unpack(ids))
redis.call('ZREM', KEYS[1], unpack(ids))
return #ids
