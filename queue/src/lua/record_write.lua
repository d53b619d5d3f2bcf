-- Helper prepended to the scripts that move a job record to a state (transition_record.lua,
-- finish_job.lua); needs index.lua.
--
-- `write_record(key, counters, a)` applies one state change to the record `key`; `a` is the
-- list of its arguments, laid out as transition_record.lua's ARGV (prefix, id, new state, now,
-- ttl, count_run, fence, kind, created_ms, the fields of a record to create up to '--', then
-- the fields to set). Returns the previous state ('' when the record was missing), or
-- '!fenced' when the fence refused the change (counted in `counters` as `fenced_writes`;
-- nothing else written).

-- JobState::is_terminal
local terminal_states = {done = true, failed = true, dead = true, abandoned = true}

local function write_record(key, counters, a)
  local p, id, new, now, ttl, count_run = a[1], a[2], a[3], a[4], tonumber(a[5]), a[6]
  local fence = a[7]
  local kind, created = a[8], a[9]
  local i = 10
  local old = redis.call('HGET', key, 'state')
  if fence ~= '' then
    local mode, token = string.sub(fence, 1, 1), string.sub(fence, 3)
    local refused
    if mode == 'c' then
      refused = old and terminal_states[old] or false
    else
      refused = redis.call('HGET', key, 'run') ~= token
    end
    if refused then
      redis.call('HINCRBY', counters, 'fenced_writes', 1)
      return '!fenced'
    end
    redis.call('HSET', key, 'run', token)
  end
  if old then
    kind = redis.call('HGET', key, 'kind')
    created = redis.call('HGET', key, 'created_ms')
    while a[i] ~= '--' do i = i + 2 end
  else
    while a[i] ~= '--' do redis.call('HSET', key, a[i], a[i + 1]); i = i + 2 end
    redis.call('HSET', key, 'id', id, 'kind', kind, 'created_ms', created)
    index_move(p, kind, id, created, nil, 'all')
  end
  i = i + 1
  local from = nil
  if old and old ~= new then from = old end
  index_move(p, kind, id, created, from, new)
  redis.call('HSET', key, 'state', new, 'updated_ms', now)
  while i <= #a do
    if a[i + 1] == '\0' then redis.call('HDEL', key, a[i]) else redis.call('HSET', key, a[i], a[i + 1]) end
    i = i + 2
  end
  if count_run == '1' then redis.call('HINCRBY', key, 'runs', 1) end
  if ttl > 0 and terminal_states[new] then
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
  return old or ''
end

