-- ADVANCE_CRON: compare-and-set of the last tick a kind's cron produced, counting the ticks
-- missed in between once however many replicas see the gap.
--
-- KEYS[1]  the last tick produced, `{p}:cron-last:{kind}`
-- KEYS[2]  the counters hash, `{p}:counters`
-- ARGV[1]  the new tick, unix seconds
-- ARGV[2]  the last tick the caller read ('' = none)
-- ARGV[3]  fire times missed between the two
-- ARGV[4]  the counter field, `missed_ticks:{kind}`
--
-- Returns the missed count, or -1 (nothing written) when another replica moved the last tick
-- since the caller read it.

local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[2] then return -1 end
redis.call('SET', KEYS[1], ARGV[1])
local missed = tonumber(ARGV[3])
if missed > 0 then redis.call('HINCRBY', KEYS[2], ARGV[4], missed) end
return missed
