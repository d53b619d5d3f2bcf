// BullMQ reference for bench/job_throughput, on the same Redis as the apalis runs.
//
//   node bench.mjs                      the suite: drains and pickup latency, JSON lines to $OUT
//   node bench.mjs worker Q C           one worker process (started by the suite)
//
// Env: REDIS_URL (redis://127.0.0.1:6379/), PREFIX (key prefix; everything under it is deleted
// at the end), OUT (JSON lines file), JOBS (20000), CONFIGS ("1:50,2:50,1:8,2:8" =
// processes:concurrency), LAT_SECS (10).
//
// Drain: the queue is paused, JOBS no-op jobs are added with addBulk in chunks of 1,000, the
// worker processes start and report ready, then the queue is resumed and the clock runs until
// the completed set holds JOBS. Completed jobs are kept (BullMQ's default), as apalis keeps them.
// Latency: an idle in-process worker (concurrency 8); one add every 10 ms; the processor records
// its start − the add time.

import { fork } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379/');
const connection = {
  host: url.hostname || '127.0.0.1',
  port: Number(url.port || 6379),
  db: Number((url.pathname || '/').slice(1) || 0),
  maxRetriesPerRequest: null,
};
const PREFIX = process.env.PREFIX || `bench-bull-${process.pid}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();

if (process.argv[2] === 'worker') {
  const [, , , queue, conc] = process.argv;
  const worker = new Worker(queue, async () => {}, {
    connection,
    prefix: PREFIX,
    concurrency: Number(conc),
  });
  await worker.waitUntilReady();
  process.send('ready');
  const stop = async () => {
    await worker.close();
    process.exit(0);
  };
  process.on('message', (m) => m === 'stop' && stop());
  process.on('disconnect', stop);
  setTimeout(() => process.exit(2), 240_000).unref();
} else {
  const OUT = process.env.OUT;
  const JOBS = Number(process.env.JOBS || 20000);
  const LAT_SECS = Number(process.env.LAT_SECS || 10);
  const CONFIGS = (process.env.CONFIGS || '1:50,2:50,1:8,2:8')
    .split(',')
    .filter(Boolean)
    .map((c) => c.split(':').map(Number));
  const redis = new IORedis(connection);
  const emit = (v) => {
    const line = JSON.stringify(v);
    console.error(line);
    if (OUT) appendFileSync(OUT, line + '\n');
  };
  const redisCpu = async () => {
    const info = await redis.info('cpu');
    let s = 0;
    for (const l of info.split('\n')) {
      const [k, v] = l.trim().split(':');
      if (k === 'used_cpu_sys' || k === 'used_cpu_user') s += Number(v);
    }
    return s;
  };
  // What Redis did (see bench/src/jobq/mod.rs `redis_stats`, the same reading on the runner's
  // side): CPU seconds, commands (script-internal ones included), scripts.
  const redisStats = async () => {
    const info = await redis.call('INFO', 'cpu', 'commandstats');
    const st = { cpu: 0, cmds: 0, scripts: 0 };
    for (const l of info.split('\n')) {
      const [k, v] = l.trim().split(':');
      if (!v) continue;
      if (k === 'used_cpu_sys' || k === 'used_cpu_user') st.cpu += Number(v);
      else if (k.startsWith('cmdstat_')) {
        const calls = Number((v.split(',').find((f) => f.startsWith('calls=')) || 'calls=0').slice(6));
        st.cmds += calls;
        if (k === 'cmdstat_eval' || k === 'cmdstat_evalsha' || k === 'cmdstat_fcall') st.scripts += calls;
      }
    }
    return st;
  };
  const perJob = (a, b, n) => ({
    redis_cmds_per_job: (b.cmds - a.cmds) / n,
    redis_scripts_per_job: (b.scripts - a.scripts) / n,
    redis_cpu_us_per_job: ((b.cpu - a.cpu) * 1e6) / n,
  });
  const self = fileURLToPath(import.meta.url);
  const withTimeout = (p, ms, what) =>
    Promise.race([p, sleep(ms).then(() => { throw new Error(`timeout: ${what}`); })]);

  let failures = 0;
  let idx = 0;
  for (const [procs, conc] of CONFIGS) {
    const name = `bull-drain-${idx++}`;
    const queue = new Queue(name, { connection, prefix: PREFIX });
    const children = [];
    try {
      await queue.pause();
      // Per-job cost from the first push to the last completion, as on the runner's side
      // (whose drain includes its pushes); the throughput is timed from the resume.
      const stats0 = await redisStats();
      const p0 = performance.now();
      for (let i = 0; i < JOBS; i += 1000) {
        const batch = [];
        for (let j = i; j < Math.min(JOBS, i + 1000); j++) batch.push({ name: 'noop', data: { n: j } });
        await queue.addBulk(batch);
      }
      const pushSecs = (performance.now() - p0) / 1000;
      const ready = [];
      for (let p = 0; p < procs; p++) {
        const child = fork(self, ['worker', name, String(conc)], { env: process.env });
        children.push(child);
        ready.push(new Promise((res) => child.once('message', res)));
      }
      await withTimeout(Promise.all(ready), 20_000, 'workers ready');
      const cpu0 = await redisCpu();
      const t0 = performance.now();
      await queue.resume();
      let done = 0;
      while (performance.now() - t0 < 180_000) {
        done = await queue.getCompletedCount();
        if (done >= JOBS) break;
        await sleep(5);
      }
      const secs = (performance.now() - t0) / 1000;
      const cpu1 = await redisCpu();
      const stats1 = await redisStats();
      emit({
        system: 'bullmq', kind: 'drain', processes: procs, concurrency: conc, batch: null,
        lock_tasks: null, jobs: JOBS, done, complete: done >= JOBS, secs,
        jobs_per_s: done / secs, enqueue_per_s: JOBS / pushSecs, redis_cpu_s: cpu1 - cpu0,
        ...perJob(stats0, stats1, JOBS),
      });
    } catch (e) {
      console.error(`bullmq drain ${procs}:${conc} failed: ${e}`);
      failures++;
    } finally {
      for (const c of children) c.connected && c.send('stop');
      await sleep(300);
      for (const c of children) c.exitCode === null && c.kill('SIGKILL');
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  }

  {
    const name = 'bull-latency';
    const queue = new Queue(name, { connection, prefix: PREFIX });
    const lat = [];
    const worker = new Worker(name, async (job) => { lat.push(nowMs() - job.data.t); }, {
      connection, prefix: PREFIX, concurrency: 8,
    });
    try {
      await worker.waitUntilReady();
      await sleep(500);
      const count = LAT_SECS * 100;
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = start + i * 10 - performance.now();
        if (wait > 0) await sleep(wait);
        await queue.add('noop', { n: i, t: nowMs() });
      }
      const w0 = performance.now();
      while (lat.length < count && performance.now() - w0 < 10_000) await sleep(10);
      lat.sort((a, b) => a - b);
      const q = (p) => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(p * lat.length) - 1))];
      emit({
        system: 'bullmq', kind: 'latency', poll_ms: 'blocking', concurrency: 8, pushed: count,
        picked: lat.length, p50_ms: q(0.5), p90_ms: q(0.9), p99_ms: q(0.99), max_ms: lat[lat.length - 1],
      });
    } catch (e) {
      console.error(`bullmq latency failed: ${e}`);
      failures++;
    } finally {
      await worker.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  }

  // Whatever is left under the prefix.
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0' && ++rounds < 100000);
  await redis.quit();
  process.exit(failures ? 1 : 0);
}
