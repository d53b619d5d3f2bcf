// Prints the Redis cost per job of each drain, the runner's and BullMQ's side by side: commands
// (those scripts run inside included), scripts, and Redis CPU, read from INFO over the first
// push to the last completion. Round trips need MONITOR: round_trips.sh.
// Usage: node cost.mjs <runner.jsonl> <bullmq.jsonl>
import { readFileSync, existsSync } from 'node:fs';

const rows = process.argv
  .slice(2)
  .filter((f) => existsSync(f))
  .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)))
  .filter((r) => r.redis_cmds_per_job !== undefined);
const f = (v, d) => (typeof v === 'number' ? v.toFixed(d) : '-');
console.log('Redis cost per job (first push to last completion; INFO on the bench Redis)');
console.log('system  procs x conc   jobs/s  commands  scripts  Redis CPU (µs)');
for (const r of rows) {
  console.log(
    [
      r.system.padEnd(7),
      `${r.processes} x ${r.concurrency}`.padEnd(12),
      f(r.jobs_per_s, 0).padStart(8),
      f(r.redis_cmds_per_job, 2).padStart(9),
      f(r.redis_scripts_per_job, 2).padStart(8),
      f(r.redis_cpu_us_per_job, 1).padStart(15),
    ].join(' '),
  );
}
