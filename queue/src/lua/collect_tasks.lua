-- COLLECT_TASKS: deletes apalis' copy of finished tasks whose retention has run out.
--
-- The runner schedules each finished task in the gc set (member `<kind>|<task id>`, score: the
-- time it may go, ms). A due task is deleted only when apalis finished it (`Done`, `Killed`) or
-- no longer knows it. A task can be back in the queue after it finished once (a worker reaped
-- as dead while only slow has its tasks re-queued); deleting its data would leave an id without
-- data in the queue, which fails every apalis fetch of that queue, so it is postponed a minute.
--
-- KEYS[1]  the gc set, `{p}:gc`
-- ARGV[1]  now, ms
-- ARGV[2]  chunk: at most this many due members are looked at
-- ARGV[3…] kind, queue name pairs (a member of an unknown kind is dropped)
--
-- Returns {deleted, postponed}.

local queues = {}
for i = 3, #ARGV, 2 do queues[ARGV[i]] = ARGV[i + 1] end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local deleted, postponed = 0, 0
for _, member in ipairs(due) do
  local sep = string.find(member, '|', 1, true)
  local q = sep and queues[string.sub(member, 1, sep - 1)]
  if not q then
    redis.call('ZREM', KEYS[1], member)
  else
    local id = string.sub(member, sep + 1)
    local status = redis.call('HGET', q .. ':meta:' .. id, 'status')
    if not status or status == 'Done' or status == 'Killed' then
      redis.call('HDEL', q .. ':data', id)
      redis.call('DEL', q .. ':meta:' .. id)
      redis.call('SREM', q .. ':done', id)
      redis.call('SREM', q .. ':dead', id)
      redis.call('ZREM', KEYS[1], member)
      deleted = deleted + 1
    else
      redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + 60000, member)
      postponed = postponed + 1
    end
  end
end
return {deleted, postponed}
