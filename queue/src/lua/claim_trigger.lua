-- CLAIM_TRIGGER: claims a manual trigger of a kind, the first step of `Enqueuer::trigger`.
--
-- KEYS[1]  the trigger key, `{p}:trigger:{kind}` (`:{venue}` appended for a venue)
-- KEYS[2]  the new job's record, `{p}:job:{id}`
-- KEYS[3]  the kind's apalis task data hash, `<q>:data`
-- ARGV[1]  key prefix `{p}`
-- ARGV[2]  the new job's id
-- ARGV[3]  kind
-- ARGV[4]  now, ms
-- ARGV[5]  life of the trigger key, seconds
-- ARGV[6]  orphan cut-off, ms: a queued record last updated at or before it whose task is
--          missing from KEYS[3] was left by a trigger or retry stopped between its steps
-- ARGV[7]  ttl of a finished record, seconds (0: none)
-- ARGV[8]  the `last_error` of a record marked failed as such an orphan
-- ARGV[9…] field, value pairs of the new record
--
-- When the trigger key names a job that is queued, scheduled or running, returns that job's
-- id and writes nothing (but for marking an orphan failed, class 'queue', after which it no
-- longer counts). Otherwise points the trigger key at the new job, records it as queued and
-- returns ''. Needs index.lua and task_id.lua.

local p, id, kind, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local cur = redis.call('GET', KEYS[1])
if cur then
  local rk = job_key(p, cur)
  local st = redis.call('HGET', rk, 'state')
  if st == 'queued' then
    local att = tonumber(redis.call('HGET', rk, 'attempts') or '1') or 1
    local upd = tonumber(redis.call('HGET', rk, 'updated_ms') or '0') or 0
    if upd <= tonumber(ARGV[6]) and redis.call('HEXISTS', KEYS[3], task_id(cur, att)) == 0 then
      local ckind = redis.call('HGET', rk, 'kind') or kind
      local created = redis.call('HGET', rk, 'created_ms') or now
      index_move(p, ckind, cur, created, 'queued', 'failed')
      redis.call('HSET', rk, 'state', 'failed', 'updated_ms', now, 'finished_ms', now,
        'last_error', ARGV[8], 'error_class', 'queue')
      if tonumber(ARGV[7]) > 0 then redis.call('EXPIRE', rk, ARGV[7]) end
      st = 'failed'
    end
  end
  if st == 'queued' or st == 'scheduled' or st == 'running' then return cur end
end
redis.call('SET', KEYS[1], id, 'EX', ARGV[5])
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
index_move(p, kind, id, now, nil, 'all')
index_move(p, kind, id, now, nil, 'queued')
return ''
