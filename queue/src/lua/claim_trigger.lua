-- CLAIM_TRIGGER: a manual trigger of a kind in one round trip (`Enqueuer::trigger`): claims the
-- trigger key, records the job as queued, writes its apalis task (as push_task.lua writes one)
-- and publishes the kind's wake, or answers with the job that holds the key and writes nothing.
--
-- KEYS[1]  the trigger key, `{p}:trigger:{kind}` (`:{venue}` appended for a venue)
-- KEYS[2]  the new job's record, `{p}:job:{id}`
-- KEYS[3]  the kind's apalis task data hash, `<q>:data`
-- KEYS[4]  the new task's meta hash, `<q>:meta:<id>`
-- KEYS[5]  the kind's schedule, `<q>:scheduled`
-- ARGV[1]  key prefix `{p}`
-- ARGV[2]  the new job's id (its first attempt's task id)
-- ARGV[3]  kind
-- ARGV[4]  now, ms
-- ARGV[5]  life of the trigger key, seconds
-- ARGV[6]  legacy orphan cut-off, ms (see below)
-- ARGV[7]  ttl of a finished record, seconds (0: none)
-- ARGV[8]  the `last_error` of a record marked failed as such an orphan
-- ARGV[9]  the task's payload
-- ARGV[10] the task's run time, unix seconds
-- ARGV[11] the task's apalis max_attempts
-- ARGV[12] the kind's wake channel, `{p}:wake:{kind}`
-- ARGV[13…] field, value pairs of the new record
--
-- When the trigger key names a job that is queued, scheduled or running, returns that job's
-- id. Otherwise points the trigger key at the new job, writes its record and task, wakes the
-- kind's workers and returns ''.
--
-- Legacy orphans: a version before this script claimed the key and pushed the task in two
-- round trips, so a crash between them left a `queued` record without a task that would hold
-- the key until it expires. Such a record (last updated at or before ARGV[6], its task missing
-- from KEYS[3]) is marked failed, class 'queue', and does not block; that is the only write of
-- a conflict. Only records written by an older replica during a rolling deploy can match: this
-- script writes the record and the task together. Needs index.lua, task_id.lua, push_task.lua.

local p, id, kind, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local cur = redis.call('GET', KEYS[1])
if cur then
  local rk = job_key(p, cur)
  local h = redis.call('HMGET', rk, 'state', 'attempts', 'updated_ms', 'kind', 'created_ms')
  local st = h[1]
  if st == 'queued' then
    local att = tonumber(h[2] or '1') or 1
    local upd = tonumber(h[3] or '0') or 0
    if upd <= tonumber(ARGV[6]) and redis.call('HEXISTS', KEYS[3], task_id(cur, att)) == 0 then
      index_move(p, h[4] or kind, cur, h[5] or now, 'queued', 'failed')
      redis.call('HSET', rk, 'state', 'failed', 'updated_ms', now, 'finished_ms', now,
        'last_error', ARGV[8], 'error_class', 'queue')
      if tonumber(ARGV[7]) > 0 then redis.call('EXPIRE', rk, ARGV[7]) end
      st = 'failed'
    end
  end
  if st == 'queued' or st == 'scheduled' or st == 'running' then return cur end
end
push_task(KEYS[3], KEYS[4], KEYS[5], id, ARGV[9], tonumber(ARGV[10]), ARGV[11])
redis.call('SET', KEYS[1], id, 'EX', ARGV[5])
local fields = {}
for i = 13, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
index_move(p, kind, id, now, nil, 'all')
index_move(p, kind, id, now, nil, 'queued')
-- Idle workers wait on this (queue::wake) instead of their next poll.
redis.call('PUBLISH', ARGV[12], 1)
return ''
