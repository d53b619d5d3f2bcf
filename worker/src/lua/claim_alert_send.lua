-- CLAIM_ALERT_SEND: claims the send of one alert delivery for one run, so that a run re-started
-- elsewhere (a false orphan: its worker only stalled) does not send the same message again.
--
-- The delivery's key holds `sent` once a run sent it, or the token of the run sending it now,
-- with a lease (PX) longer than a send may take plus the orphan window.
--
-- KEYS[1]  the delivery's send key, `{p}:alert-send:{job id}`
-- ARGV[1]  this run's token
-- ARGV[2]  lease, ms
--
-- Returns {'claimed', 0}, {'sent', 0}, or {'leased', ms left on another run's lease}.

local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return {'claimed', 0}
end
if v == 'sent' then return {'sent', 0} end
return {'leased', math.max(redis.call('PTTL', KEYS[1]), 0)}
