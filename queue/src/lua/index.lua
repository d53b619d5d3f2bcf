-- Job record helpers, prepended to every script that reads or moves job records (records.rs).
--
-- A record lives in `{p}:job:{id}` and is indexed in the sorted sets `{p}:jobs:{k}:{state}`,
-- k = 'all' or the record's kind, state = the record's state or 'all', each scored by the
-- record's creation time. A listing by kind and state is then one range read of one set.

-- The record key of job `id`.
local function job_key(p, id)
  return p .. ':job:' .. id
end

-- The index of kind `k` ('all': every kind) and `state` ('all': every state).
local function job_index(p, k, state)
  return p .. ':jobs:' .. k .. ':' .. state
end

-- Moves job `id` from the `from` indexes to the `to` indexes, both for 'all' and for `kind`
-- (a nil kind: 'all' only). A nil `from` only adds, a nil `to` only removes. `score` is the
-- record's creation time.
local function index_move(p, kind, id, score, from, to)
  for _, k in ipairs({'all', kind}) do
    if from then redis.call('ZREM', job_index(p, k, from), id) end
    if to then redis.call('ZADD', job_index(p, k, to), score, id) end
  end
end

