/**
 * Benchmark of the embedded cluster's cost (npm run bench:cluster [-- --runs N] [--local]).
 *
 * Side by side, A B A B …: the alive cluster (control plane, kube-scheduler, kwok, metrics-server, the Git
 * server and Flux's controllers) against its peer without the alive part (`--no-alive`), each:
 *   - `up` in an empty folder (first start: certificates, etcd's first write, the node pool);
 *   - `up` again while it runs (warm: every health checked, nothing started);
 *   - the resident memory of all its processes (VmRSS, their children included) after a minute of running
 *     (kwok heartbeats, metrics-server has scraped);
 * then, with --local, `bash scripts/local.sh` (npm run local without npm) twice on the running local cluster,
 * the second one warm. Prints the tables and writes docs/figures/cluster.md; asserts nothing.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { defaultToolsBin, down, runningPid, TOOLS, up } from "../cluster/controlplane";
import { FigureTable, writeFigures } from "./figures";

const root = path.resolve(__dirname, "../..");
const { values } = parseArgs({
  options: { runs: { type: "string", default: "3" }, local: { type: "boolean", default: false } },
  strict: true,
});
const runs = Number(values.runs);
const toolsBin = defaultToolsBin();
const quiet = () => undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d), ...children(Number(d)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** MiB resident in the folder's processes and their children (a supervisor's controller included). */
function rssMiB(dir: string): number {
  const pids = TOOLS.map((t) => runningPid(dir, t)).filter((p): p is number => p !== undefined);
  let kib = 0;
  for (const pid of [...pids, ...pids.flatMap(children)]) {
    try {
      kib += Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return kib / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function one(alive: boolean): Promise<{ cold: number; warm: number; rss: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-bench-cluster-"));
  try {
    const t0 = Date.now();
    await up({ dir, toolsBin, alive, log: quiet });
    const cold = (Date.now() - t0) / 1000;
    const t1 = Date.now();
    await up({ dir, toolsBin, alive, log: quiet });
    const warm = (Date.now() - t1) / 1000;
    await sleep(60_000);
    const rss = rssMiB(dir);
    return { cold, warm, rss };
  } finally {
    await down({ dir, log: quiet });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const a: { cold: number; warm: number; rss: number }[] = [];
  const b: typeof a = [];
  for (let i = 0; i < runs; i++) {
    a.push(await one(true));
    b.push(await one(false));
    console.error(`run ${i + 1}/${runs}: alive ${JSON.stringify(a[i])}, peer ${JSON.stringify(b[i])}`);
  }
  const row = (what: string, f: (r: (typeof a)[0]) => number, unit: string) => {
    const ma = median(a.map(f));
    const mb = median(b.map(f));
    return [
      what,
      `${ma.toFixed(1)} ${unit}`,
      `${mb.toFixed(1)} ${unit}`,
      (ma / mb).toFixed(2),
      `${Math.min(...a.map(f)).toFixed(1)}–${Math.max(...a.map(f)).toFixed(1)}`,
    ];
  };
  const tables: FigureTable[] = [
    {
      title: `The alive cluster against the control plane alone (medians of ${runs}, run in turn)`,
      header: ["what", "alive", "peer: --no-alive", "ratio", "alive min–max"],
      rows: [
        row("`up` in an empty folder", (r) => r.cold, "s"),
        row("`up` while it runs", (r) => r.warm, "s"),
        row("resident memory after a minute", (r) => r.rss, "MiB"),
      ],
    },
  ];
  if (values.local) {
    const times: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now();
      const res = spawnSync("bash", ["scripts/local.sh"], {
        cwd: root,
        stdio: ["ignore", "ignore", "pipe"],
        encoding: "utf8",
      });
      if (res.status !== 0) throw new Error(`scripts/local.sh failed (${res.status}): ${res.stderr.slice(-2000)}`);
      times.push((Date.now() - t0) / 1000);
    }
    tables.push({
      title: "`npm run local` (as `bash scripts/local.sh`) on the running local cluster",
      header: ["run", "seconds"],
      rows: [
        ["first (whatever the stack's state was)", times[0].toFixed(1)],
        ["second: warm, nothing changed", times[1].toFixed(1)],
      ],
    });
  }
  for (const t of tables) console.log(`${t.title}\n${t.rows.map((r) => r.join("  ")).join("\n")}\n`);
  const file = await writeFigures(
    "cluster",
    "bench:cluster",
    "What the alive cluster costs: its start in an empty folder and while running, and its resident memory, against the control plane without kube-scheduler, kwok and metrics-server (both with the Git server and Flux's controllers), run in turn on the same machine.",
    tables,
  );
  console.error(`written ${path.relative(root, file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
