// Link Loom beside its peers: the cases of the performance targets, run
// in interleaved rounds on one PostgreSQL cluster, medians and ratios.
// Started by contrib/bench/bench-peers.sh, which starts the cluster and
// the daemons and passes them in the environment:
//   DATABASE_URL  the cluster (libpq URL)      API       loom-api's base URL
//   NOOP_URL      noopd's task URL             ROUNDS    rounds (default 3)
//   LOOM_PIDS     "name:pid ..." of the daemons, for memory and wake-ups
//   WORKDIR       a scratch directory (generated Makefiles)
// Every Loom figure is end to end as a client sees it: from the trigger
// request to the moment GET /api/v1/executions/{id}?wait= answers with the
// run finished.  graphile-worker figures run from the first addJob to the
// moment the driver observes the last job's completion committed.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import pg from "pg";
import { run as gwRun, makeWorkerUtils } from "graphile-worker";

const DB = process.env.DATABASE_URL;
const API = process.env.API;
const NOOP = process.env.NOOP_URL;
const ROUNDS = +(process.env.ROUNDS || 3);
const WORK = process.env.WORKDIR || os.tmpdir();
const CHAIN = +(process.env.CHAIN || 1000);
const FANOUT = +(process.env.FANOUT || 10000);
const RUNS = +(process.env.RUNS || 1000);
const SHELL = +(process.env.SHELL_TASKS || 1000);
const QUEUED = +(process.env.QUEUED || 10000);
const BIGQ = +(process.env.BIGQ || 100000);
const PIDS = (process.env.LOOM_PIDS || "").split(/\s+/).filter(Boolean)
  .map((s) => s.split(":"));
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const log = (...a) => process.stderr.write(a.join(" ") + "\n");

const pool = new pg.Pool({ connectionString: DB, max: 4 });

// ---- Link Loom through its REST API --------------------------------------
// node:http with kept-alive sockets: the client's own CPU (fetch costs
// two to three times as much a request) comes from the same two cores as
// the daemons it measures
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const apiUrl = new URL(API);
function api(method, path, body, type = "application/json") {
  const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: apiUrl.hostname, port: apiUrl.port, path, method, agent,
      headers: data === undefined ? {} : { "Content-Type": type, "Content-Length": Buffer.byteLength(data) },
    }, (r) => {
      const chunks = [];
      r.on("data", (c) => chunks.push(c));
      r.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if (r.statusCode < 200 || r.statusCode > 299) reject(new Error(`${method} ${path}: ${r.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : null);
      });
      r.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}
const registered = new Set();
async function register(id, yaml) {
  if (registered.has(id)) return;
  await api("POST", "/api/v1/workflows", yaml, "application/yaml");
  registered.add(id);
}
function httpTask(id, deps) {
  let s = `  - id: ${id}\n    url: ${NOOP}\n    timeout: 30s\n`;
  if (deps.length) s += `    dependsOn: [${deps.join(", ")}]\n`;
  return s;
}
function shellTask(id, deps) {
  let s = `  - id: ${id}\n    command: [true]\n    timeout: 30s\n`;
  if (deps.length) s += `    dependsOn: [${deps.join(", ")}]\n`;
  return s;
}
function genChain(id, n, task) {
  let s = `id: ${id}\ntasks:\n`;
  for (let i = 0; i < n; i++) s += task(`t${i}`, i ? [`t${i - 1}`] : []);
  return s;
}
function genFan(id, n, task) {
  let s = `id: ${id}\ntasks:\n`;
  for (let i = 0; i < n; i++) s += task(`t${i}`, []);
  return s;
}
const DIAMOND = `id: diamond\ntasks:\n` + httpTask("a", []) + httpTask("b", ["a"]) +
  httpTask("c", ["a"]) + httpTask("d", ["a"]) + httpTask("e", ["b", "c", "d"]);

async function trigger(wf) {
  return (await api("POST", `/api/v1/workflows/${wf}/trigger`, {})).executionId;
}
async function waitRun(id) {
  for (;;) {
    const e = await api("GET", `/api/v1/executions/${id}?wait=60s`);
    if (["SUCCESS", "FAILED", "CANCELLED"].includes(e.status)) {
      if (e.status !== "SUCCESS") throw new Error(`run ${id} ended ${e.status}`);
      return;
    }
  }
}
// seconds from the trigger request to the client seeing the run finished
async function loomRun(wf, yaml) {
  await register(wf, yaml);
  const t0 = now();
  await waitRun(await trigger(wf));
  return (now() - t0) / 1000;
}
async function loomMany(wf, yaml, runs, inflight = 64) {
  await register(wf, yaml);
  const t0 = now();
  // every run is triggered at once (a burst of RUNS triggers), the client
  // holding up to `inflight` requests open at a time
  const ids = [];
  let k = 0;
  const trig = async () => { while (k < runs) { k++; ids.push(await trigger(wf)); } };
  await Promise.all(Array.from({ length: inflight }, trig));
  let w = 0;
  const waiter = async () => { while (w < ids.length) await waitRun(ids[w++]); };
  await Promise.all(Array.from({ length: inflight }, waiter));
  return (now() - t0) / 1000;
}
// READY rows that are not due for an hour (as a row held back by a circuit
// breaker is): they sit in loom-exec's queue index without being runnable
async function park(n) {
  await pool.query(`INSERT INTO run_tasks (execution_id, task_id, state, ready_at)
    SELECT 'exec-bench-parked', 'q' || i, 'READY', now() + interval '1 hour'
    FROM generate_series(1, $1) i`, [n]);
  // vacuumed now, so that autovacuum does not run during the case
  await pool.query("VACUUM ANALYZE run_tasks");
}
async function unpark() {
  await pool.query("DELETE FROM run_tasks WHERE execution_id = 'exec-bench-parked'");
  await pool.query("VACUUM ANALYZE run_tasks");
}

// ---- graphile-worker ---------------------------------------------------------
let gwUtils;
async function gwChain(n) {
  let done;
  const fin = new Promise((r) => (done = r));
  const runner = await gwRun({
    pgPool: gwPool, concurrency: 10, noHandleSignals: true, pollInterval: 2000,
    logger: quiet, taskList: { hop: async () => {} },
  });
  // the next job is added once the previous job's completion has committed
  // (the job row is gone), as a durable dependency must be
  runner.events.on("job:complete", async ({ job }) => {
    const k = job.payload.n;
    while ((await gwPool.query("SELECT 1 FROM graphile_worker._private_jobs WHERE id = $1",
      [job.id])).rowCount) await sleep(0);
    if (k + 1 >= n) done(); else await gwUtils.addJob("hop", { n: k + 1 });
  });
  const t0 = now();
  await gwUtils.addJob("hop", { n: 0 });
  await fin;
  const s = (now() - t0) / 1000;
  await runner.stop();
  return s;
}
async function gwFan(n, batched) {
  await gwPool.query("DELETE FROM graphile_worker._private_jobs");
  let left = n, done;
  const fin = new Promise((r) => (done = r));
  // jobs are queued first (one statement), then the pool starts: jobs/s of
  // draining the queue, until every completion has committed
  await gwPool.query(`SELECT graphile_worker.add_job('noop', json_build_object('i', i))
    FROM generate_series(1, $1) i`, [n]);
  const opts = {
    pgPool: gwPool, concurrency: 10, noHandleSignals: true, pollInterval: 2000, logger: quiet,
    taskList: { noop: async () => { if (--left === 0) done(); } },
  };
  // graphile-worker 0.17 takes these two only through its preset
  if (batched)
    opts.preset = { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } };
  const t0 = now();
  const runner = await gwRun(opts);
  await fin;
  while ((await gwPool.query("SELECT count(*)::int c FROM graphile_worker._private_jobs")).rows[0].c)
    await sleep(1);
  const s = (now() - t0) / 1000;
  await runner.stop();
  return s;
}
const quiet = new (await import("graphile-worker")).Logger(() => () => {});
let gwPool;

// ---- make -j2 ---------------------------------------------------------------
function makeCase(n, chained) {
  let mk = ".PHONY: all";
  for (let i = 0; i < n; i++) mk += ` t${i}`;
  mk += "\nall: " + (chained ? `t${n - 1}` : Array.from({ length: n }, (_, i) => `t${i}`).join(" ")) + "\n";
  for (let i = 0; i < n; i++) mk += `t${i}:${chained && i ? ` t${i - 1}` : ""}\n\t@true\n`;
  const f = `${WORK}/${chained ? "chain" : "fan"}.mk`;
  writeFileSync(f, mk);
  const t0 = now();
  const r = spawnSync("make", ["-s", "-j2", "-f", f], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("make failed");
  return (now() - t0) / 1000;
}

// ---- floors -----------------------------------------------------------------
async function floorCommit(n = 200) {
  const c = await pool.connect();
  await c.query("CREATE TABLE IF NOT EXISTS bench_commit (x int)");
  const t0 = now();
  for (let i = 0; i < n; i++) await c.query("INSERT INTO bench_commit VALUES (1)");
  const ms = (now() - t0) / n;
  await c.query("TRUNCATE bench_commit");
  c.release();
  return ms;
}
async function floorNotify(n = 200) {
  const a = new pg.Client({ connectionString: DB }), b = new pg.Client({ connectionString: DB });
  await a.connect(); await b.connect();
  await a.query("LISTEN pong"); await b.query("LISTEN ping");
  b.on("notification", () => b.query("NOTIFY pong"));
  let got;
  a.on("notification", () => got());
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const p = new Promise((r) => (got = r));
    await a.query("NOTIFY ping");
    await p;
  }
  const ms = (now() - t0) / n;
  await a.end(); await b.end();
  return ms;
}
async function floorHttp(n = 500) {
  const body = JSON.stringify({ input: {} });
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const r = await fetch(NOOP, { method: "POST", body, headers: { "Content-Type": "application/json" } });
    await r.text();
  }
  return (now() - t0) / n;
}

// ---- daemons: memory and wake-ups ------------------------------------------
function status(pid) {
  let rss = 0, sw = 0;
  try {
    rss = +/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1];
    for (const t of execFileSync("ls", [`/proc/${pid}/task`]).toString().split("\n").filter(Boolean)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/status`, "utf8");
      sw += +/voluntary_ctxt_switches:\s+(\d+)/.exec(s)[1];
      sw += +/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)[1];
    }
  } catch { /* gone */ }
  return { rss, sw };
}
// the wake-ups of idle daemons: first the tail of the last work is waited
// out (the engine's last sweep comes engine.sweep, 10 s, after the last
// run; an executor's last look at leases exec.lease/4, 7.5 s, after its
// last claim; loom-api closes this driver's kept-alive connections
// api.timeout, 30 s, after their last request), until no daemon woke for
// 12 s (at most 2 minutes more, said in the label), then every wake-up in
// secs is counted
async function idle(label, secs = 10, after = 0) {
  const t0 = now();
  await sleep(after * 1000);
  for (let q = PIDS.map(([, p]) => status(p).sw).join(), i = 0; i < 10; i++) {
    await sleep(12000);
    const c = PIDS.map(([, p]) => status(p).sw).join();
    if (c === q) break;
    q = c;
  }
  label += ` (quiet after ${((now() - t0) / 1000).toFixed(0)} s)`;
  const a = PIDS.map(([, p]) => status(p));
  await sleep(secs * 1000);
  const b = PIDS.map(([, p]) => status(p));
  const rows = PIDS.map(([n], i) => ({
    n, rss: b[i].rss, wake: (b[i].sw - a[i].sw) / secs,
  }));
  return { label, rows };
}
// after a workload: wait until every daemon's RSS stops moving (<= 30 s)
async function settle() {
  let prev = "", same = 0;
  for (let i = 0; i < 30 && same < 2; i++) {
    await sleep(1000);
    const cur = PIDS.map(([, p]) => status(p).rss).join(",");
    same = cur === prev ? same + 1 : 0;
    prev = cur;
  }
}

// ---- the rounds ---------------------------------------------------------------
const R = {};
const rec = (k, v) => (R[k] ||= []).push(v);
// CASES=loom.diamond,gw.fanb,... runs only those cases (for profiling)
const want = (k) => !process.env.CASES || process.env.CASES.split(",").includes(k);

async function round(i) {
  const load = +readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  rec("load", load);
  rec("commit", await floorCommit());
  rec("notify", await floorNotify());
  rec("http", await floorHttp());
  if (want("loom.chain")) rec("loom.chain", (await loomRun("chain", genChain("chain", CHAIN, httpTask))) * 1000 / (CHAIN - 1));
  if (want("gw.chain")) rec("gw.chain", (await gwChain(CHAIN)) * 1000 / (CHAIN - 1));
  if (want("loom.fan")) rec("loom.fan", FANOUT / (await loomRun("fanout", genFan("fanout", FANOUT, httpTask))));
  if (want("gw.fan")) rec("gw.fan", FANOUT / (await gwFan(FANOUT, false)));
  if (want("gw.fanb")) rec("gw.fanb", FANOUT / (await gwFan(FANOUT, true)));
  if (want("loom.diamond")) rec("loom.diamond", RUNS / (await loomMany("diamond", DIAMOND, RUNS)));
  if (want("make.chain")) rec("make.chain", (makeCase(SHELL, true)) * 1000 / (SHELL - 1));
  if (want("loom.shchain")) rec("loom.shchain", (await loomRun("shchain", genChain("shchain", SHELL, shellTask))) * 1000 / (SHELL - 1));
  if (want("make.fan")) rec("make.fan", SHELL / makeCase(SHELL, false));
  if (want("loom.shfan")) rec("loom.shfan", SHELL / (await loomRun("shfan", genFan("shfan", SHELL, shellTask))));
  if (want("loom.chainq")) await park(QUEUED);
  if (want("loom.chainq")) rec("loom.chainq", (await loomRun("chain", genChain("chain", CHAIN, httpTask))) * 1000 / (CHAIN - 1));
  await unpark();
  if (want("loom.fan1k")) rec("loom.fan1k", 1000 / (await loomRun("fan1k", genFan("fan1k", 1000, httpTask))));
  if (want("loom.fan1kq")) await park(BIGQ);
  if (want("loom.fan1kq")) rec("loom.fan1kq", 1000 / (await loomRun("fan1k", genFan("fan1k", 1000, httpTask))));
  await unpark();
  log(`round ${i + 1}/${ROUNDS} done (load ${load})`);
}

async function main() {
  gwPool = new pg.Pool({ connectionString: DB, max: 24 });
  gwPool.on("error", (e) => log("graphile-worker pool:", e.message));
  gwPool.on("connect", (c) => c.on("error", (e) => log("graphile-worker client:", e.message)));
  gwUtils = await makeWorkerUtils({ pgPool: gwPool, logger: quiet });
  await gwUtils.migrate();
  const idle0 = await idle("idle before any work");
  for (let i = 0; i < ROUNDS; i++) await round(i);
  // the driver's kept-alive connections closed now: left open, loom-api
  // would close them at api.timeout, in the middle of the idle figures
  agent.destroy();
  await settle();
  const idle1 = await idle("idle after the rounds", 10, 32);
  await gwUtils.release();
  await gwPool.end();

  const m = (k) => (R[k] ? median(R[k]) : NaN);
  // a ratio is the median of the rounds' ratios: each round's two figures
  // were taken a moment apart, on the same machine load
  const mr = (a, b) => (R[a] && R[b] ? median(R[a].map((x, i) => x / R[b][i])) : NaN);
  const f = (x, d = 2) => x.toFixed(d);
  const line = (name, val, unit, target, ok) =>
    console.log(`${name.padEnd(58)} ${val.padStart(10)} ${unit.padEnd(7)} ${target.padEnd(26)} ${ok === undefined ? "" : ok ? "ok" : "MISSED"}`);
  console.log(`\nmedians of ${ROUNDS} interleaved rounds (a ratio: the median of the rounds' ratios) (load average at round start: ${R.load.map((x) => f(x)).join(", ")})`);
  console.log("Loom figures: end to end, trigger request to the client seeing the run finished\n");
  console.log("-- floors");
  line("durable commit (INSERT, synchronous_commit on)", f(m("commit"), 3), "ms", "");
  line("NOTIFY ping-pong round trip", f(m("notify"), 3), "ms", "");
  line("loopback HTTP request to noopd (keep-alive)", f(m("http"), 3), "ms", "");
  console.log("-- cases");
  const rd = m("loom.diamond");
  line(`${RUNS} concurrent runs of a 5-task diamond`, f(rd, 0), "runs/s", ">= 1000 runs/s", rd >= 1000);
  const lf = m("loom.fan"), gf = m("gw.fan"), gfb = m("gw.fanb");
  line(`fan-out ${FANOUT}: Loom, default loom-exec settings`, f(lf, 0), "tasks/s", "", undefined);
  line(`fan-out ${FANOUT}: graphile-worker, concurrency 10`, f(gf, 0), "jobs/s", "", undefined);
  line(`fan-out ${FANOUT}: graphile-worker, localQueue + batch 0`, f(gfb, 0), "jobs/s", "", undefined);
  line("  ratio Loom / graphile-worker batched", f(mr("loom.fan", "gw.fanb")), "x", ">= 1.2x", mr("loom.fan", "gw.fanb") >= 1.2);
  line("  ratio Loom / graphile-worker unbatched", f(mr("loom.fan", "gw.fan")), "x", "", undefined);
  const lc = m("loom.chain"), gc = m("gw.chain");
  line(`chain ${CHAIN}: Loom per hop`, f(lc, 3), "ms", "<= 1.0 ms", lc <= 1.0);
  line(`chain ${CHAIN}: graphile-worker strict per hop`, f(gc, 3), "ms", "", undefined);
  line("  ratio Loom / graphile-worker", f(mr("loom.chain", "gw.chain")), "x", "<= 0.5x", mr("loom.chain", "gw.chain") <= 0.5);
  const lq = m("loom.chainq");
  line(`chain hop with ${QUEUED} tasks waiting (not due)`, f(lq, 3), "ms", "", undefined);
  line("  ratio to the idle chain hop", f(mr("loom.chainq", "loom.chain")), "x", "<= 2x", mr("loom.chainq", "loom.chain") <= 2);
  const mc = m("make.chain"), sc = m("loom.shchain"), mf = m("make.fan"), sf = m("loom.shfan");
  line(`shell 'true' chain ${SHELL}: make -j2 per hop`, f(mc, 3), "ms", "", undefined);
  line(`shell 'true' chain ${SHELL}: Loom per hop`, f(sc, 3), "ms", "", undefined);
  line("  ratio Loom / make -j2", f(mr("loom.shchain", "make.chain")), "x", "<= 1.3x", mr("loom.shchain", "make.chain") <= 1.3);
  line(`shell 'true' fan-out ${SHELL}: make -j2`, f(mf, 0), "tasks/s", "", undefined);
  line(`shell 'true' fan-out ${SHELL}: Loom`, f(sf, 0), "tasks/s", "", undefined);
  line("  ratio make -j2 / Loom (time)", f(mr("make.fan", "loom.shfan")), "x", "<= 1.3x", mr("make.fan", "loom.shfan") <= 1.3);
  const a = m("loom.fan1k"), b = m("loom.fan1kq");
  line("fan-out 1000, empty queue", f(a, 0), "tasks/s", "", undefined);
  line(`fan-out 1000, ${BIGQ} tasks waiting (not due)`, f(b, 0), "tasks/s", "", undefined);
  line("  ratio of times (waiting / empty)", f(mr("loom.fan1k", "loom.fan1kq")), "x", "~1x (flat)", mr("loom.fan1k", "loom.fan1kq") <= 1.25);
  for (const s of [idle0, idle1]) {
    console.log(`-- ${s.label}`);
    for (const r of s.rows) {
      line(`${r.n}: RSS`, f(r.rss / 1024, 1), "MB", s === idle0 ? "< 20 MB" : "< 50 MB",
        r.rss / 1024 < (s === idle0 ? 20 : 50));
      line(`${r.n}: wake-ups per second`, f(r.wake, 1), "/s", "0 (no work, no wake-ups)", r.wake === 0);
    }
  }
  const busy = m("notify") > 0.4 || Math.max(...R.load) > 1.5;
  if (busy)
    console.log(`\nWARNING: the machine is busy (NOTIFY round trip ${f(m("notify"), 3)} ms, quiet ~0.1 ms; load ${R.load.map((x) => f(x)).join(", ")}): compare ratios, not absolute figures`);
  console.log("\nper-round figures: " + JSON.stringify(Object.fromEntries(
    Object.entries(R).map(([k, v]) => [k, v.map((x) => +x.toFixed(3))]))));
  await pool.end();
}
main().catch((e) => { console.error(e); process.exit(1); });
