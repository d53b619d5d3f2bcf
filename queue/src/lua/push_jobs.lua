-- PUSH_JOBS: pushes jobs in one round trip: each one's apalis task (with dedup), its job record
-- (only when the task is new), and one wake per channel when a new task is due now.
--
-- KEYS     four per job, in the order of the jobs: the task data hash `<q>:data`, the task's
--          meta hash `<q>:meta:<task id>`, the schedule `<q>:scheduled`, the record
--          `{p}:job:{id}`
-- ARGV[1]  key prefix `{p}`
-- ARGV[2]  now, ms (a new record's created_ms and updated_ms)
-- ARGV[3]  now, unix seconds: a task whose run time is at or before it is due now
-- ARGV[4…] twelve per job: task id, payload, run time (unix seconds), apalis max_attempts,
--          record ('1': create the job's record as queued when the task is new; '0': no record
--          here), job id, kind, tick, venue ('' none), manual ('1'/'0'), attempt, attempts
--          allowed (the record's max_attempts)
--          then, per job, its wake channel (`{p}:wake:{kind}`), one value each after all groups
--
-- Returns one value per job: 1 pushed, 0 duplicate (its task id existed; nothing written).
-- Needs index.lua and push_task.lua.

local p, now_ms, now_s = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = #KEYS / 4
local wake_at = 4 + n * 12
local out, woken = {}, {}
for j = 0, n - 1 do
  local k, a = j * 4, 4 + j * 12
  local tid, run_at = ARGV[a], tonumber(ARGV[a + 2])
  local new = push_task(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], tid, ARGV[a + 1], run_at, ARGV[a + 3])
  out[j + 1] = new
  if new == 1 then
    local rk, id, kind = KEYS[k + 4], ARGV[a + 5], ARGV[a + 6]
    if ARGV[a + 4] == '1' and redis.call('EXISTS', rk) == 0 then
      redis.call('HSET', rk, 'id', id, 'kind', kind, 'tick', ARGV[a + 7], 'venue', ARGV[a + 8],
        'manual', ARGV[a + 9], 'attempts', ARGV[a + 10], 'max_attempts', ARGV[a + 11], 'runs', 0,
        'state', 'queued', 'created_ms', now_ms, 'updated_ms', now_ms)
      index_move(p, kind, id, now_ms, nil, 'all')
      index_move(p, kind, id, now_ms, nil, 'queued')
    end
    local ch = ARGV[wake_at + j]
    if run_at <= now_s and not woken[ch] then
      -- Idle workers wait on this (queue::wake) instead of their next poll.
      redis.call('PUBLISH', ch, 1)
      woken[ch] = true
    end
  end
end
return out
