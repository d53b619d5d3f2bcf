-- The apalis task id of one attempt of a job, prepended to the scripts that look a task up.
--
-- Attempt 1 runs as the task `id`, attempt n > 1 as `id~n`. This is `queue::payload::task_id`
-- in Lua; a test in payload.rs runs this function in Redis against the Rust one.
local function task_id(id, attempt)
  if attempt > 1 then return id .. '~' .. attempt end
  return id
end

