-- REPAIR_QUEUE: removes task ids that have no task data from a queue.
--
-- No such id should exist (pushes write the data first, and the janitor deletes only finished
-- tasks), but one fails apalis-redis' fetch for the worker that takes it; the worker restarts,
-- its in-flight ids go back to the queue and the next worker fails the same way. A cheap
-- safety net against a wedged queue.
--
-- KEYS[1]  the apalis active list, `<q>:active` (only its first 1,000 ids are looked at)
-- KEYS[2]  the apalis task data hash, `<q>:data`
-- KEYS[3]  the apalis workers set, `<q>:workers`
-- ARGV[1]  the prefix of in-flight sets: a worker's is `ARGV[1]:<worker>`
--
-- Returns how many ids were removed.

local removed = 0
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, 999)) do
  if redis.call('HEXISTS', KEYS[2], id) == 0 then
    removed = removed + redis.call('LREM', KEYS[1], 0, id)
  end
end
for _, w in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local inflight = ARGV[1] .. ':' .. w
  for _, id in ipairs(redis.call('SMEMBERS', inflight)) do
    if redis.call('HEXISTS', KEYS[2], id) == 0 then
      removed = removed + redis.call('SREM', inflight, id)
    end
  end
end
return removed
