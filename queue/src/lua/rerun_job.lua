-- RERUN_JOB: a re-run of a failed or dead job in one round trip (`Enqueuer::retry`): checks
-- the record, moves it to `queued` with the new attempt and attempts allowed, writes the task
-- of that attempt (`<id>~<n>`, as push_task.lua writes one) and publishes the kind's wake.
--
-- KEYS[1]  the record, `{p}:job:{id}`
-- KEYS[2]  the counters hash, `{p}:counters`
-- KEYS[3]  the kind's apalis task data hash, `<q>:data`
-- KEYS[4]  the new task's meta hash, `<q>:meta:<id>~<n>`
-- KEYS[5]  the kind's schedule, `<q>:scheduled`
-- ARGV[1]  the attempt the caller read on the record (n - 1): the task it built is for n
-- ARGV[2]  legacy orphan cut-off, ms (see below)
-- ARGV[3]  the new task id `<id>~<n>`
-- ARGV[4]  its payload
-- ARGV[5]  its run time, unix seconds
-- ARGV[6]  its apalis max_attempts
-- ARGV[7]  the kind's wake channel, `{p}:wake:{kind}`
-- ARGV[8…] the record write, laid out as transition_record.lua's ARGV (ARGV[9] the job id)
--
-- Returns '!ok' when the re-run was queued; otherwise writes nothing and returns '' when the
-- record is missing, '!moved' when its attempt is no longer ARGV[1] (another re-run went
-- first: the caller reads it again), or the record's state when that state cannot be re-run.
--
-- Failed and dead records can be re-run, and a legacy orphan: a `queued` record last updated
-- at or before ARGV[2] whose task is missing from KEYS[3], left by a version before this
-- script, whose re-run (and trigger) wrote the record and the task in separate round trips.
-- Needs index.lua, task_id.lua, record_write.lua and push_task.lua.

local h = redis.call('HMGET', KEYS[1], 'state', 'attempts', 'updated_ms')
local st = h[1]
if not st then return '' end
local att = tonumber(h[2] or '0') or 0
if att ~= tonumber(ARGV[1]) then return '!moved' end
local ok = st == 'failed' or st == 'dead'
if not ok and st == 'queued' and (tonumber(h[3] or '0') or 0) <= tonumber(ARGV[2]) then
  ok = redis.call('HEXISTS', KEYS[3], task_id(ARGV[9], att)) == 0
end
if not ok then return st end
local a = {}
for i = 8, #ARGV do a[#a + 1] = ARGV[i] end
write_record(KEYS[1], KEYS[2], a)
push_task(KEYS[3], KEYS[4], KEYS[5], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6])
-- Idle workers wait on this (queue::wake) instead of their next poll.
redis.call('PUBLISH', ARGV[7], 1)
return '!ok'
