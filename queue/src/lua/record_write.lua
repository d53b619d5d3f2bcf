-- Helper prepended to the scripts that move a job record to a state (transition_record.lua,
-- finish_job.lua, rerun_job.lua); needs index.lua.
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
  -- One read and one write of the hash per call: each redis.call costs Redis CPU per job.
  local h = redis.call('HMGET', key, 'state', 'run', 'kind', 'created_ms', 'runs')
  local old = h[1] or nil
  local set = {}
  if fence ~= '' then
    local mode, token = string.sub(fence, 1, 1), string.sub(fence, 3)
    local refused
    if mode == 'c' then
      refused = old and terminal_states[old] or false
    else
      refused = h[2] ~= token
    end
    if refused then
      redis.call('HINCRBY', counters, 'fenced_writes', 1)
      return '!fenced'
    end
    set[#set + 1] = 'run'; set[#set + 1] = token
  end
  if old then
    kind, created = h[3], h[4]
    while a[i] ~= '--' do i = i + 2 end
  else
    while a[i] ~= '--' do set[#set + 1] = a[i]; set[#set + 1] = a[i + 1]; i = i + 2 end
    for _, v in ipairs({'id', id, 'kind', kind, 'created_ms', created}) do set[#set + 1] = v end
    index_move(p, kind, id, created, nil, 'all')
  end
  i = i + 1
  local from = nil
  if old and old ~= new then from = old end
  index_move(p, kind, id, created, from, new)
  for _, v in ipairs({'state', new, 'updated_ms', now}) do set[#set + 1] = v end
  local del = {}
  while i <= #a do
    if a[i + 1] == '\0' then
      del[#del + 1] = a[i]
    else
      set[#set + 1] = a[i]; set[#set + 1] = a[i + 1]
    end
    i = i + 2
  end
  if count_run == '1' then
    -- A field set above for a new record (runs = 0) is overridden by this later pair.
    set[#set + 1] = 'runs'; set[#set + 1] = (tonumber(old and h[5]) or 0) + 1
  end
  redis.call('HSET', key, unpack(set))
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  if ttl > 0 and terminal_states[new] then
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
  return old or ''
end

