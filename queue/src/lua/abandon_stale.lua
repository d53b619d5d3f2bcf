-- ABANDON_STALE: moves queued, scheduled and running records whose run is gone to 'abandoned'.
--
-- A candidate is a record indexed in such a state and created before now - bound. It is
-- abandoned when it was neither updated nor due to run within the bound and no task of its
-- current attempt is pending in its queue (task data present and not finished by apalis). An
-- index entry whose record is gone or in another state is dropped.
--
-- KEYS[1]  the counters hash, `{p}:counters` (field `jobs_abandoned`)
-- ARGV[1]  key prefix `{p}`
-- ARGV[2]  now, ms
-- ARGV[3]  bound, ms
-- ARGV[4]  ttl of an abandoned record, seconds (0: none)
-- ARGV[5]  limit: at most this many candidates per state, oldest first
-- ARGV[6…] kind, queue name pairs
--
-- Returns how many records were abandoned. Needs index.lua and task_id.lua.

local p, now, bound, ttl, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local queues, kinds = {}, {}
for i = 6, #ARGV, 2 do queues[ARGV[i]] = ARGV[i + 1]; table.insert(kinds, ARGV[i]) end
local n = 0
for _, st in ipairs({'queued', 'scheduled', 'running'}) do
  local ids = redis.call('ZRANGEBYSCORE', job_index(p, 'all', st), '-inf', now - bound, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local key = job_key(p, id)
    local h = redis.call('HMGET', key, 'state', 'updated_ms', 'next_run_ms', 'attempts', 'kind', 'created_ms')
    if not h[1] or h[1] ~= st then
      -- The record is gone, or in another state already: this index entry is stale.
      redis.call('ZREM', job_index(p, 'all', st), id)
      for _, k in ipairs(kinds) do redis.call('ZREM', job_index(p, k, st), id) end
    else
      local last = math.max(tonumber(h[2]) or 0, tonumber(h[3]) or 0)
      if last < now - bound then
        local q = queues[h[5]]
        local tid = task_id(id, tonumber(h[4]) or 1)
        local pending = false
        if q and redis.call('HEXISTS', q .. ':data', tid) == 1 then
          local status = redis.call('HGET', q .. ':meta:' .. tid, 'status')
          pending = not (status == 'Done' or status == 'Killed')
        end
        if not pending then
          local created = tonumber(h[6]) or now
          index_move(p, h[5], id, created, st, 'abandoned')
          redis.call('HSET', key, 'state', 'abandoned', 'updated_ms', now, 'finished_ms', now,
            'error_class', 'abandoned',
            'last_error', 'abandoned: ' .. st .. ' with no live run for ' .. math.floor(bound / 1000) .. ' s')
          redis.call('HDEL', key, 'next_run_ms')
          if ttl > 0 then redis.call('EXPIRE', key, ttl) end
          redis.call('HINCRBY', KEYS[1], 'jobs_abandoned', 1)
          n = n + 1
        end
      end
    end
  end
end
return n
