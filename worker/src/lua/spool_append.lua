-- SPOOL_APPEND: appends a history batch to the spool unless it is full; the check and the
-- append are one step, so replicas appending together cannot overshoot the bound.
--
-- KEYS[1]  the spool stream, `{p}:history-spool`
-- ARGV[1]  the most entries the stream may hold
-- ARGV[2]  field `table`
-- ARGV[3]  field `n` (rows)
-- ARGV[4]  field `ts` (the tick in ms, 0 but for premiums)
-- ARGV[5]  field `rows` (JSON)
--
-- Returns the new entry's id, or 0 when the spool was full.

if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
return redis.call('XADD', KEYS[1], '*', 'table', ARGV[2], 'n', ARGV[3], 'ts', ARGV[4], 'rows', ARGV[5])
