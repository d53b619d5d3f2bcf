-- ABANDON_STALE: moves queued, scheduled and running records whose run is gone to 'abandoned'.
--
-- A candidate is a record indexed in such a state and created before now - bound. It is
-- abandoned when it was neither updated nor due to run within the bound and no task of it is
-- pending in its queue (task data present and not finished by apalis). Every task id the job
-- can have is looked at, attempt 1 up to the record's `attempts` + 1: a `scheduled` record
-- carries the attempt that failed, and its retry waits as the next attempt's task
-- (`<id>~<attempts+1>`), while a retry in place still runs as an earlier attempt's task. An
-- index entry whose record is gone or in another state is dropped.
--
-- Each pass looks at `limit` candidates per state, starting after the last one the previous
-- pass looked at (a cursor per state, `score|id`, in KEYS[2]) and wrapping around at the end
-- of the candidates: long-lived records at the head of an index (retry chains, a job waiting
-- for its queue) cannot hide the ones behind them.
--
-- KEYS[1]  the counters hash, `{p}:counters` (field `jobs_abandoned`)
-- KEYS[2]  the cursors hash, `{p}:abandon-cursor` (field per state)
-- ARGV[1]  key prefix `{p}`
-- ARGV[2]  now, ms
-- ARGV[3]  bound, ms
-- ARGV[4]  ttl of an abandoned record, seconds (0: none)
-- ARGV[5]  limit: at most this many candidates per state and pass
-- ARGV[6…] kind, queue name pairs
--
-- Returns how many records were abandoned. Needs index.lua and task_id.lua.

local p, now, bound, ttl, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local queues, kinds = {}, {}
for i = 6, #ARGV, 2 do queues[ARGV[i]] = ARGV[i + 1]; table.insert(kinds, ARGV[i]) end

-- Whether some task of job `id` (attempts 1 … attempts + 1) waits or runs in queue `q`.
local function task_pending(q, id, attempts)
  if not q then return false end
  for a = attempts + 1, 1, -1 do
    local tid = task_id(id, a)
    if redis.call('HEXISTS', q .. ':data', tid) == 1 then
      local status = redis.call('HGET', q .. ':meta:' .. tid, 'status')
      if not (status == 'Done' or status == 'Killed') then return true end
    end
  end
  return false
end

-- Byte order, as Redis orders members of equal score (Lua's `<=` on strings follows the
-- server's locale).
local function bytes_le(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a <= #b
end

-- Up to `limit` candidates of index `idx` after the cursor `cur` (`score|id`, or false: from
-- the start), as a flat {id, score, id, score, …} list, and whether they are the last ones.
-- Members sharing the cursor's score sort by id (Redis orders equal scores by member bytes):
-- those up to the cursor's id were looked at already, so the read takes that many more.
local function page_after(idx, cur)
  local max = now - bound
  if not cur then
    local raw = redis.call('ZRANGEBYSCORE', idx, '-inf', max, 'WITHSCORES', 'LIMIT', 0, limit)
    return raw, #raw < 2 * limit
  end
  local sep = string.find(cur, '|', 1, true)
  local cscore, cid = string.sub(cur, 1, sep - 1), string.sub(cur, sep + 1)
  local want = limit + redis.call('ZCOUNT', idx, cscore, cscore)
  local raw = redis.call('ZRANGEBYSCORE', idx, cscore, max, 'WITHSCORES', 'LIMIT', 0, want)
  local out = {}
  for i = 1, #raw, 2 do
    if #out < 2 * limit and not (raw[i + 1] == cscore and bytes_le(raw[i], cid)) then
      table.insert(out, raw[i]); table.insert(out, raw[i + 1])
    end
  end
  return out, #raw < 2 * want and #out < 2 * limit
end

local n = 0
for _, st in ipairs({'queued', 'scheduled', 'running'}) do
  local idx = job_index(p, 'all', st)
  local page, last = page_after(idx, redis.call('HGET', KEYS[2], st))
  if last then
    -- The end of the candidates: the next pass starts from the head again.
    redis.call('HDEL', KEYS[2], st)
  else
    redis.call('HSET', KEYS[2], st, page[#page] .. '|' .. page[#page - 1])
  end
  for i = 1, #page, 2 do
    local id = page[i]
    local key = job_key(p, id)
    local h = redis.call('HMGET', key, 'state', 'updated_ms', 'next_run_ms', 'attempts', 'kind', 'created_ms')
    if not h[1] or h[1] ~= st then
      -- The record is gone, or in another state already: this index entry is stale.
      redis.call('ZREM', idx, id)
      for _, k in ipairs(kinds) do redis.call('ZREM', job_index(p, k, st), id) end
    else
      local last = math.max(tonumber(h[2]) or 0, tonumber(h[3]) or 0)
      if last < now - bound and not task_pending(queues[h[5]], id, tonumber(h[4]) or 1) then
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
return n
