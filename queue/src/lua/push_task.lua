-- Helper prepended to the scripts that push an apalis task (push_jobs.lua, finish_job.lua,
-- claim_trigger.lua, rerun_job.lua).
--
-- Writes one task the way apalis-redis 1.0's own push (`lua/batch_push.lua` in its crate) does
-- with events off and no idempotency key, which is how `queue::queue_config` configures every
-- queue: the payload under the task id in the data hash (HSETNX: a second push of an id is a
-- no-op, the dedup), the meta hash with status `Pending`, and the id in the schedule scored by
-- its run time in unix seconds (apalis schedules even a task due now: its push never uses the
-- active list). `queue/tests/apalis_contract.rs` checks the result against apalis' own push and
-- that an apalis worker runs it.
--
-- Returns 1 when the task was written, 0 when its id existed (nothing written).
local function push_task(data, meta, sched, tid, payload, run_at, max_attempts)
  if redis.call('HSETNX', data, tid, payload) == 0 then return 0 end
  redis.call('HSET', meta, 'attempts', 0, 'max_attempts', max_attempts, 'status', 'Pending',
    'idempotency_key', '')
  redis.call('ZADD', sched, run_at, tid)
  return 1
end

