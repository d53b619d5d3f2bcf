-- TRANSITION_RECORD: moves a job record to a state, creating the record when it is missing.
--
-- KEYS[1]  the record, `{p}:job:{id}`
-- KEYS[2]  the counters hash, `{p}:counters`
-- ARGV[1]  key prefix `{p}`
-- ARGV[2]  job id
-- ARGV[3]  the new state
-- ARGV[4]  now, ms (`updated_ms`)
-- ARGV[5]  ttl, seconds, set on a terminal state (0: none); any other state persists the record
-- ARGV[6]  count_run: '1' adds one to the record's `runs`
-- ARGV[7]  fence (`records::Fence`): '' none, 'c:<token>' claim, 'o:<token>' own
-- ARGV[8]  kind of a record to create
-- ARGV[9]  created_ms of a record to create
-- ARGV[10…] field, value pairs of a record to create, up to a '--' marker
-- then      field, value pairs to set; a value of one NUL byte deletes the field
--
-- Returns the previous state ('' when the record was missing), or '!fenced' when the fence
-- refused the change (counted in the counters hash as `fenced_writes`; nothing else written).
-- Needs index.lua.

local key, p, id, new, now, ttl, count_run = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local fence = ARGV[7]
local kind, created = ARGV[8], ARGV[9]
-- JobState::is_terminal
local terminal = {done = true, failed = true, dead = true, abandoned = true}
local i = 10
local old = redis.call('HGET', key, 'state')
if fence ~= '' then
  local mode, token = string.sub(fence, 1, 1), string.sub(fence, 3)
  local refused
  if mode == 'c' then
    refused = old and terminal[old] or false
  else
    refused = redis.call('HGET', key, 'run') ~= token
  end
  if refused then
    redis.call('HINCRBY', KEYS[2], 'fenced_writes', 1)
    return '!fenced'
  end
  redis.call('HSET', key, 'run', token)
end
if old then
  kind = redis.call('HGET', key, 'kind')
  created = redis.call('HGET', key, 'created_ms')
  while ARGV[i] ~= '--' do i = i + 2 end
else
  while ARGV[i] ~= '--' do redis.call('HSET', key, ARGV[i], ARGV[i + 1]); i = i + 2 end
  redis.call('HSET', key, 'id', id, 'kind', kind, 'created_ms', created)
  index_move(p, kind, id, created, nil, 'all')
end
i = i + 1
local from = nil
if old and old ~= new then from = old end
index_move(p, kind, id, created, from, new)
redis.call('HSET', key, 'state', new, 'updated_ms', now)
while i <= #ARGV do
  if ARGV[i + 1] == '\0' then redis.call('HDEL', key, ARGV[i]) else redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
  i = i + 2
end
if count_run == '1' then redis.call('HINCRBY', key, 'runs', 1) end
if ttl > 0 and terminal[new] then
  redis.call('EXPIRE', key, ttl)
else
  redis.call('PERSIST', key)
end
return old or ''
