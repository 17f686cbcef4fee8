/**
 * The processes of an embedded cluster folder (scripts/cluster/controlplane.ts writes run/<tool>.pid
 * for each it starts), read without starting anything: which are alive, since when, how often their
 * supervisor restarted them, and which have died. Plain module: the cluster command, the waits of the
 * dynamic providers (a wait on a dead process fails in seconds and names it) and the tests share it.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface ProcessState {
  tool: string;
  pid?: number;
  /** When the process (or its supervisor) started, from /proc. */
  since?: Date;
  /** The supervisor's restarts of the tool since the process above started (Flux's controllers). */
  restarts: number;
  lastRestart?: string;
  /** A pid file exists: the folder started it, so not running means it died (or was killed). */
  started: boolean;
  log: string;
}

/** The pid of a tool this folder started, if that process is alive, not a zombie and names the folder. */
export function alivePid(dir: string, tool: string, binary?: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dir, "run", `${tool}.pid`), "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))) return undefined;
  } catch {
    return undefined;
  }
  // A pid can be reused: it is ours only if its command line names this folder (and the binary, when known).
  if (!args.some((a) => a.includes(path.resolve(dir)))) return undefined;
  if (binary && !args.some((a) => path.basename(a) === binary)) return undefined;
  return pid;
}

function startTime(pid: number): Date | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"))?.[1]);
    // USER_HZ is 100 on every Linux this runs on.
    return Number.isFinite(ticks) && btime ? new Date((btime + ticks / 100) * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** Restarts recorded by the supervisor (scripts/cluster: "supervise: <bin> exited ...") since the last start. */
function restartsIn(log: string): { restarts: number; last?: string } {
  let text: string;
  try {
    text = fs.readFileSync(log, "utf8");
  } catch {
    return { restarts: 0 };
  }
  // Only what follows the last start of the process (its "--- <time> <tool> <args>" header).
  const lines = text.split("\n");
  let from = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^--- \d{4}-\d\d-\d\dT\S+ \S+ /.test(lines[i]) && !lines[i].includes("supervise:")) {
      from = i;
      break;
    }
  }
  const restarts = lines.slice(from).filter((l) => l.includes(" supervise: "));
  const last = restarts.length ? /^--- (\S+)/.exec(restarts[restarts.length - 1])?.[1] : undefined;
  return { restarts: restarts.length, last };
}

/** Every tool of the folder, in the order given. */
export function processTable(
  dir: string,
  tools: readonly string[],
  binaries: Record<string, string> = {},
): ProcessState[] {
  return tools.map((tool) => {
    const pid = alivePid(dir, tool, binaries[tool]);
    const log = path.join(dir, "logs", `${tool}.log`);
    const r = restartsIn(log);
    return {
      tool,
      pid,
      since: pid ? startTime(pid) : undefined,
      restarts: r.restarts,
      lastRestart: r.last,
      started: fs.existsSync(path.join(dir, "run", `${tool}.pid`)),
      log,
    };
  });
}

/**
 * Processes of this folder running `binary` that no pid file tracks: a supervised tool's child left
 * behind when its supervisor was killed outright. They hold the tool's port; `up` ends them first.
 */
export function untrackedPids(dir: string, binary: string, tracked: number | undefined): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === tracked || Number(d) === process.pid) continue;
    try {
      const args = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (path.basename(args[0]) === binary && args.some((a) => a.includes(path.resolve(dir)))) {
        const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        // A child of the live supervisor is tracked through it.
        if (ppid !== tracked && !/\) Z /.test(stat)) out.push(Number(d));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The tools of the folder that were started and are no longer running. */
export function deadProcesses(dir: string): ProcessState[] {
  let tools: string[];
  try {
    tools = fs
      .readdirSync(path.join(dir, "run"))
      .filter((f) => f.endsWith(".pid"))
      .map((f) => f.slice(0, -4));
  } catch {
    return [];
  }
  return processTable(dir, tools).filter((p) => p.started && p.pid === undefined);
}

/** The embedded cluster folder a kubeconfig file belongs to (it sits in it beside run/ and ports.json), if any. */
export function embeddedClusterDir(kubeconfig: string | undefined): string | undefined {
  if (!kubeconfig || kubeconfig.includes("\n") || !fs.existsSync(kubeconfig)) return undefined;
  const dir = path.dirname(path.resolve(kubeconfig));
  return fs.existsSync(path.join(dir, "run")) && fs.existsSync(path.join(dir, "ports.json")) ? dir : undefined;
}

/**
 * A one-line reason to stop waiting when a process of the embedded cluster has died, naming it,
 * its log and the command that heals it; undefined while all run (or when not an embedded cluster).
 */
export function deadProcessProblem(dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  const dead = deadProcesses(dir);
  if (dead.length === 0) return undefined;
  return (
    `the embedded cluster's ${dead.map((d) => d.tool).join(", ")} ${dead.length > 1 ? "are" : "is"} not running ` +
    `(${dead.map((d) => d.log).join(", ")}): restart it with npm run cluster -- up, then run again`
  );
}
