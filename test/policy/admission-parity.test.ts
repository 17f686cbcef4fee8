/**
 * Parity of the third enforcer: the cluster's own admission (the API server calling the OPA webhook the
 * policy component declares) against conftest, on the fuzzer's generated cases. Each case is sent to the
 * embedded cluster as a server-side dry run into a namespace the webhook judges; the rule ids of the
 * refusal must be exactly those conftest denies for the same object (CART-EXC-001, which judges the
 * catalogue rather than an object, left out on both sides). Cases the API server refuses before admission
 * (its own validation: a wrong type, a missing required field) never reach the webhook and are counted apart.
 * A disagreement fails with the case's text, to be minimised and committed as a reproducer.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { admissionSchema } from "../../components/config/schema";
import { localEndpoint, rulesFiles, webhookObject } from "../../components/policy/admission-objects";
import { conftestTest, messages } from "../../components/policy/conftest";
import { paths } from "../../scripts/cluster/controlplane";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { generateTyped, type FuzzCase } from "../helpers/fuzz";
import { PROJECT_ROOT, tempDir, toolsBin } from "../helpers/tools";

/** Fixed, so a failure reproduces; a seed of its own (the two-enforcer fuzzer's is 20261129). */
const SEED = 20261206;
const CASES = 400;
const NS = "fuzz-admissao";
/** Kinds the embedded cluster serves without Flux's CRDs, all judged by the webhook. */
const KINDS = new Set([
  "Deployment",
  "StatefulSet",
  "CronJob",
  "Service",
  "Ingress",
  "PodDisruptionBudget",
  "HorizontalPodAutoscaler",
  "Role",
  "RoleBinding",
  "NetworkPolicy",
  "Secret",
]);
let cluster: TestCluster;

const ruleIds = (msgs: string[]) =>
  [...new Set(msgs.flatMap((m) => /^(CART-[A-Z0-9]+-\d{3}):/.exec(m)?.[1] ?? []))]
    .filter((id) => !id.startsWith("CART-EXC-"))
    .sort();

describe("admission parity: the API server's webhook verdict against conftest's", () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ flux: false, alive: false });
    // The rules as pulumi up writes them for the local server, and the webhook as the component declares it.
    const rules = paths(cluster.dir).admissionRules;
    for (const [name, text] of Object.entries(rulesFiles(PROJECT_ROOT))) fs.writeFileSync(path.join(rules, name), text);
    const endpoint = localEndpoint(cluster.kubeconfig);
    cluster.kubectlOk(["create", "namespace", NS]);
    // OPA loads the rules (--watch) before the webhook may ask it: until then every answer would be a failure.
    const deadline = Date.now() + 30_000;
    for (;;) {
      cluster.kubectlOk(
        ["apply", "-f", "-"],
        JSON.stringify(webhookObject(admissionSchema.parse({}), endpoint.clientConfig, {})),
      );
      const probe = cluster.kubectl([
        "create",
        "configmap",
        "probe",
        "-n",
        NS,
        "--dry-run=server",
        "--from-literal=k=v",
      ]);
      if (probe.status === 0) break;
      if (Date.now() > deadline) throw new Error(`the webhook never answered: ${probe.stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it(`${CASES} generated cases: the same rules refuse each object at admission as in conftest`, () => {
    // Mutations that change a field's type never reach admission (the API cannot decode them): this oracle
    // takes the type-preserving generator's cases.
    const cases: FuzzCase[] = generateTyped(SEED, CASES * 3)
      .filter((c) => {
        const d = c.docs[0] as { kind?: unknown; metadata?: unknown } | null;
        return (
          !!d && typeof d === "object" && KINDS.has(String(d.kind)) && !!d.metadata && typeof d.metadata === "object"
        );
      })
      .slice(0, CASES);
    // The namespace the object is sent to, written into it, so both enforcers name the same object.
    for (const c of cases) (c.docs[0] as { metadata: Record<string, unknown> }).metadata.namespace = NS;

    // The object as the API server stores it (decoded, defaulted: null list entries become empty objects,
    // null label values empty strings), from a dry run into kube-system, which the webhook never judges.
    // conftest judges that object; the webhook judges the same object in NS. A case the API's own validation
    // refuses reaches neither.
    const dir = tempDir("admission-parity");
    const files = tempDir("admission-parity-files");
    const stored = new Map<string, unknown>();
    const reasons = new Map<string, number>();
    for (const c of cases) {
      const file = path.join(files, `${c.id}.yaml`);
      fs.writeFileSync(file, stringify(c.docs[0], { version: "1.1" }));
      const inSystem = structuredClone(c.docs[0]) as { metadata: Record<string, unknown> };
      inSystem.metadata.namespace = "kube-system";
      const res = cluster.kubectl(
        ["create", "--dry-run=server", "--validate=ignore", "-o", "json", "-f", "-"],
        stringify(inSystem, { version: "1.1" }),
      );
      if (res.status !== 0) {
        const reason = (/is invalid: (\S+?):/.exec(res.stderr)?.[1] ?? res.stderr.split("\n")[0]).slice(0, 80);
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        continue;
      }
      const obj = JSON.parse(res.stdout) as { metadata: Record<string, unknown> };
      obj.metadata = {
        name: obj.metadata.name,
        namespace: NS,
        labels: obj.metadata.labels,
        annotations: obj.metadata.annotations,
      };
      stored.set(c.id, obj);
      fs.writeFileSync(path.join(dir, `${c.id}.json`), JSON.stringify(obj));
    }
    const run = conftestTest(
      path.join(toolsBin(), "conftest"),
      [
        dir,
        "--policy",
        path.join(PROJECT_ROOT, "policies"),
        "--data",
        path.join(PROJECT_ROOT, "policies/catalogue.yaml"),
      ],
      1 << 30,
    );
    if ("problem" in run) throw new Error(run.problem);
    const byConftest = new Map(
      run.results.map((r) => [path.basename(r.filename, ".json"), ruleIds(messages([r]).deny)]),
    );

    let judged = 0;
    let refused = 0;
    const disagreements: { id: string; conftest: string[]; admission: string[]; text: string }[] = [];
    for (const c of cases) {
      if (!stored.has(c.id)) continue;
      const res = cluster.kubectl([
        "create",
        "--dry-run=server",
        "--validate=ignore",
        "-o",
        "name",
        "-f",
        path.join(files, `${c.id}.yaml`),
      ]);
      let admission: string[];
      if (res.status === 0) admission = [];
      else if (res.stderr.includes('admission webhook "regras.cartorio.digital" denied the request')) {
        const text = res.stderr.slice(0, res.stderr.lastIndexOf("(policies/catalogue.yaml"));
        admission = [...new Set(text.match(/CART-[A-Z0-9]+-\d{3}(?=: )/g) ?? [])].sort();
        refused++;
      } else throw new Error(`${c.id}: the API refused in NS what it stored in kube-system: ${res.stderr}`);
      judged++;
      const cf = byConftest.get(c.id) ?? [];
      if (JSON.stringify(cf) !== JSON.stringify(admission)) {
        disagreements.push({ id: c.id, conftest: cf, admission, text: JSON.stringify(stored.get(c.id), null, 1) });
      }
    }
    const validation = [...reasons.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([r, n]) => `${n}× ${r}`);
    console.log(
      `admission parity: ${cases.length} cases, ${judged} judged by the webhook (${refused} refused, ${judged - refused} admitted), ` +
        `${cases.length - judged} refused by the API's own validation first (${validation.join("; ")}), ${disagreements.length} disagreements`,
    );
    expect(disagreements.slice(0, 5)).toEqual([]);
    // The comparison means something only if the webhook judged most cases, both ways.
    expect(judged).toBeGreaterThan(cases.length / 4);
    expect(refused).toBeGreaterThan(0);
    expect(judged - refused).toBeGreaterThan(0);
  }, 600_000);
});
