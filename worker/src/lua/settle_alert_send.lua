-- SETTLE_ALERT_SEND: ends a run's claim on an alert delivery's send (claim_alert_send.lua).
--
-- Sent: the key says `sent` for `keep` ms, whoever holds the lease now (the message is out; a
-- run sending it again would send it twice). Not sent: the run's lease is released if it is
-- still this run's, so the next attempt may send at once.
--
-- KEYS[1]  the delivery's send key, `{p}:alert-send:{job id}`
-- ARGV[1]  this run's token
-- ARGV[2]  'sent' or 'failed'
-- ARGV[3]  keep, ms: how long `sent` is remembered
--
-- Returns 1 when the key changed, 0 otherwise.

if ARGV[2] == 'sent' then
  redis.call('SET', KEYS[1], 'sent', 'PX', tonumber(ARGV[3]))
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
