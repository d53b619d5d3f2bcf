-- EVALUATE_ALERTS: applies a tick's alert decisions per (rule, coin): re-arms, or fires when
-- armed and out of cooldown, putting the firing's delivery job id in the outbox at once.
--
-- A candidate whose tick is not newer than the last one its (rule, coin) saw is ignored (a
-- re-run or an overtaken computation).
--
-- KEYS[1]     the outbox, `{p}:alert-outbox` (score: now, ms)
-- KEYS[2i]    candidate i's rule state hash, `{p}:alert:{rule}` (fields `<coin>:tick`,
--             `<coin>:armed`, `<coin>:last_ms`, `<coin>:seq`)
-- KEYS[2i+1]  candidate i's firings hash, `{p}:alert-firings:{rule}` (job id → firing JSON)
-- ARGV[1]     tick, unix seconds
-- ARGV[2]     now, ms
-- ARGV[3]     life of a firings hash after its last firing, seconds
-- then per candidate i, five values from ARGV[4 + 5(i-1)]:
--             coin, action ('fire' or 'rearm'), cooldown ms, job id prefix
--             (`deliver-alert:{rule}:{coin}`), firing JSON
--
-- Returns the job ids of the new firings (`<prefix>:<seq>`), each already in the outbox.

local tick, now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local fired = {}
local n = (#KEYS - 1) / 2
for i = 1, n do
  local st, fk = KEYS[2 * i], KEYS[2 * i + 1]
  local b = 4 + (i - 1) * 5
  local coin, action, cooldown = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2])
  local last_tick = tonumber(redis.call('HGET', st, coin .. ':tick') or '0')
  if tick > last_tick then
    redis.call('HSET', st, coin .. ':tick', tick)
    if action == 'rearm' then
      redis.call('HSET', st, coin .. ':armed', 1)
    elseif redis.call('HGET', st, coin .. ':armed') ~= '0' then
      -- The cooldown runs on the tick clock: the same for every replica and every retry of
      -- a computation, whatever its wall-clock delay.
      local last = tonumber(redis.call('HGET', st, coin .. ':last_ms') or '0')
      if tick * 1000 - last >= cooldown then
        local seq = redis.call('HINCRBY', st, coin .. ':seq', 1)
        redis.call('HSET', st, coin .. ':armed', 0, coin .. ':last_ms', tick * 1000)
        local id = ARGV[b + 3] .. ':' .. seq
        redis.call('HSET', fk, id, ARGV[b + 4])
        redis.call('EXPIRE', fk, ttl)
        redis.call('ZADD', KEYS[1], now, id)
        table.insert(fired, id)
      end
    end
  end
end
return fired
