-- CREATE_RECORD: records a newly pushed job as queued, unless its record exists.
--
-- KEYS[1]  the record, `{p}:job:{id}`
-- ARGV[1]  key prefix `{p}`
-- ARGV[2]  job id
-- ARGV[3]  job kind
-- ARGV[4]  created_ms, the score of the index entries
-- ARGV[5…] field, value pairs of the record (state 'queued' among them)
--
-- Returns 1 when the record was created, 0 when it existed (nothing is written then).
-- Needs index.lua.

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local p, id, kind, created = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
index_move(p, kind, id, created, nil, 'all')
index_move(p, kind, id, created, nil, 'queued')
return 1
