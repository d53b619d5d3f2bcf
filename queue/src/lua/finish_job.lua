-- FINISH_JOB: the last write of one run of a job, in one round trip: the record's fenced move
-- to its end state (a terminal one, or `scheduled` for a durable retry), and with it
-- - the kind's last success (only when the record write was applied),
-- - the durable retry's successor task `<id>~<n>` (only when applied, so a run that is no
--   longer current pushes none; written as push_task.lua writes a task), and
-- - the task apalis delivered filed in the gc set for collection (whatever the fence said:
--   apalis finishes that task in any case).
-- A crash can no longer fall between the `scheduled` record and its successor.
--
-- KEYS[1]  the record, `{p}:job:{id}`
-- KEYS[2]  the counters hash, `{p}:counters`
-- KEYS[3]  the last-success hash, `{p}:last_success`
-- KEYS[4]  the gc set, `{p}:gc`
-- KEYS[5]  the successor's task data hash `<q>:data`  } only when ARGV[4] is not ''
-- KEYS[6]  the successor's meta hash `<q>:meta:<tid>` }
-- KEYS[7]  the successor's schedule `<q>:scheduled`   }
-- ARGV[1]  gc member `<kind>|<delivered task id>` ('' none)
-- ARGV[2]  gc score: the time the task may go, ms
-- ARGV[3]  last success, ms, written under the field ARGV[15] (the kind) ('' none)
-- ARGV[4]  successor task id ('' none)
-- ARGV[5]  successor payload
-- ARGV[6]  successor run time, unix seconds
-- ARGV[7]  successor apalis max_attempts
-- ARGV[8…] the record write, laid out as transition_record.lua's ARGV (ARGV[8] the prefix,
--          ARGV[10] the new state, ARGV[15] the kind, …)
--
-- Returns the previous state ('' when the record was missing), or '!fenced' when the fence
-- refused the change (nothing but the gc entry and the fenced_writes count written).
-- Needs index.lua, record_write.lua and push_task.lua.

local a = {}
for i = 8, #ARGV do a[#a + 1] = ARGV[i] end
local old = write_record(KEYS[1], KEYS[2], a)
if old ~= '!fenced' then
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], a[8], ARGV[3]) end
  if ARGV[4] ~= '' then
    push_task(KEYS[5], KEYS[6], KEYS[7], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
  end
end
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1]) end
return old
