/**
 * The config model against a real API server: whatever the model accepts, the
 * API server must accept too (server-side dry-run of the very objects the
 * Scaling component applies, built by the same functions). Where the model is
 * stricter than the API (a CPU target over 100 %), that is allowed; the other
 * way round is a defect the render mode and the mocks never showed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { validateConfig } from "../../components/config/load";
import type { PlatformConfig } from "../../components/config/schema";
import { hpaObject, namespaceObject, pdbObject } from "../../components/scaling/objects";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { PROJECT_ROOT } from "../helpers/tools";

let cluster: TestCluster;

type Raw = Record<string, unknown>;
interface Case {
  name: string;
  raw: Raw;
  /** The model's verdict the case is about (checked too). */
  model: "accepts" | "rejects";
}

const policy = (p: Raw) => ({ behavior: { scaleUp: { stabilizationWindowSeconds: 0, policies: [p] } } });
const CASES: Case[] = [
  { name: "defaults", raw: {}, model: "accepts" },
  {
    name: "HPA policy periodSeconds 1800",
    raw: { scaling: policy({ type: "Pods", value: 4, periodSeconds: 1800 }) },
    model: "accepts",
  },
  {
    name: "HPA policy periodSeconds 1801",
    raw: { scaling: policy({ type: "Pods", value: 4, periodSeconds: 1801 }) },
    model: "rejects",
  },
  {
    name: "HPA policy value 0",
    raw: { scaling: policy({ type: "Pods", value: 0, periodSeconds: 15 }) },
    model: "rejects",
  },
  {
    name: "HPA policy value over int32",
    raw: { scaling: policy({ type: "Pods", value: 2 ** 31, periodSeconds: 15 }) },
    model: "rejects",
  },
  {
    name: "stabilization window 3601 s",
    raw: {
      scaling: {
        behavior: {
          scaleDown: {
            stabilizationWindowSeconds: 3601,
            policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
          },
        },
      },
    },
    model: "rejects",
  },
  {
    name: "scale-down disabled",
    raw: {
      scaling: {
        behavior: {
          scaleDown: {
            stabilizationWindowSeconds: 300,
            selectPolicy: "Disabled",
            policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
          },
        },
      },
    },
    model: "accepts",
  },
  { name: "minReplicas 0", raw: { scaling: { minReplicas: 0 } }, model: "rejects" },
  { name: "maxReplicas over int32", raw: { scaling: { maxReplicas: 2 ** 31 } }, model: "rejects" },
  {
    name: "CPU target 150 % (legal for the API; the model keeps 1..100)",
    raw: { scaling: { cpuUtilization: 150 } },
    model: "rejects",
  },
  { name: "owner label value of 63 characters", raw: { workload: { owner: "t".repeat(63) } }, model: "accepts" },
  { name: "owner label value of 64 characters", raw: { workload: { owner: "t".repeat(64) } }, model: "rejects" },
  { name: "owner with a space and an accent", raw: { workload: { owner: "time aplicação" } }, model: "rejects" },
  { name: "owner ending in '-'", raw: { workload: { owner: "time-" } }, model: "rejects" },
  { name: "deployment name of 64 characters", raw: { workload: { deployment: "d".repeat(64) } }, model: "rejects" },
  { name: "namespace with capitals", raw: { workload: { namespace: "Cartorio" } }, model: "rejects" },
];

/** The objects a case yields: from the validated config, or (model refused) from the raw values over the defaults. */
function objectsOf(raw: Raw): { ok: boolean; problems: string[]; docs: object[] } {
  let cfg: PlatformConfig;
  let ok = true;
  let problems: string[] = [];
  try {
    cfg = validateConfig(raw, { stack: "modelo", projectRoot: PROJECT_ROOT });
  } catch (e) {
    ok = false;
    problems = String((e as Error).message)
      .split("\n")
      .slice(1);
    // What would be applied if the model had let it through.
    const defaults = validateConfig({}, { stack: "modelo", projectRoot: PROJECT_ROOT });
    const merge = (a: Raw, b: Raw): Raw =>
      Object.fromEntries(
        [...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [
          k,
          b[k] && typeof b[k] === "object" && !Array.isArray(b[k]) && a[k] && typeof a[k] === "object"
            ? merge(a[k] as Raw, b[k] as Raw)
            : k in b
              ? b[k]
              : a[k],
        ]),
      );
    cfg = merge(defaults as unknown as Raw, raw) as unknown as PlatformConfig;
  }
  const w = cfg.workload;
  const s = cfg.scaling;
  return {
    ok,
    problems,
    docs: [
      namespaceObject(w),
      hpaObject({ ...w, namespace: "cartorio" }, s),
      pdbObject({ ...w, namespace: "cartorio" }, s),
    ],
  };
}

describe("the config model against the API server", () => {
  beforeAll(async () => {
    cluster = await startTestCluster();
    cluster.kubectlOk(["create", "namespace", "cartorio"]);
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it("never accepts what the API server rejects", () => {
    const table: string[] = [];
    const defects: string[] = [];
    for (const c of CASES) {
      const { ok, problems, docs } = objectsOf(c.raw);
      expect(ok ? "accepts" : "rejects", `${c.name}: ${problems.join("; ")}`).toBe(c.model);
      // Each object on its own, server-side apply in dry-run: what the provider sends, nothing stored.
      const refusals = docs
        .map((d) => cluster.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], stringify(d)))
        .filter((r) => r.status !== 0)
        .map((r) => r.stderr.trim().split("\n")[0]);
      const api = refusals.length === 0 ? "accepts" : "rejects";
      table.push(
        `${c.name.padEnd(62)} model ${ok ? "accepts" : "rejects"}  API ${api}${refusals.length ? `: ${refusals[0].slice(0, 170)}` : ""}`,
      );
      if (ok && api === "rejects") defects.push(`${c.name}: ${refusals.join("; ")}`);
    }
    console.log(table.join("\n"));
    expect(defects).toEqual([]);
  });

  it("the PDB builder never sets both minAvailable and maxUnavailable, which the API rejects", () => {
    const { docs } = objectsOf({});
    const pdb = docs[2] as { spec: Record<string, unknown> };
    for (let min = 1; min <= 50; min++) {
      const spec = (objectsOf({ scaling: { minReplicas: min, maxReplicas: 60 } }).docs[2] as typeof pdb).spec;
      expect(Object.keys(spec).sort()).toEqual(["maxUnavailable", "selector", "unhealthyPodEvictionPolicy"]);
      expect(spec.maxUnavailable).toBeGreaterThanOrEqual(1);
    }
    const both = stringify({ ...pdb, spec: { ...pdb.spec, minAvailable: 1 } });
    const res = cluster.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], both);
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/minAvailable and maxUnavailable cannot be both set/);
  });
});
