/**
 * What the live audit leaves out (components/policy/audit.ts auditedObjects), and nothing more: Kubernetes'
 * own RBAC objects only when they are exactly what its bootstrap policy makes (name and content, never a
 * `system:` name or a label anyone may choose), and an owned object only when its owner is really there
 * and judged. The bootstrap policies here are small made-up ones in the shape `kube bootstrap-policy`
 * prints (test/cluster/audit.test.ts audits with the real one).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  auditedObjects,
  BootstrapPolicy,
  loadBootstrapPolicy,
  readLiveObjects,
  ruleCovers,
} from "../../components/policy/audit";
import { tempDir } from "../helpers/tools";

const RBAC = "rbac.authorization.k8s.io";
const defaults = { "kubernetes.io/bootstrapping": "rbac-defaults" };
const admins = { kind: "Group", apiGroup: RBAC, name: "system:masters" };
const everything = { apiGroups: ["*"], resources: ["*"], verbs: ["*"] };
const readPods = { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] };
const readDeployments = { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] };
const sel = (label: string) => ({ clusterRoleSelectors: [{ matchLabels: { [`${RBAC}/${label}`]: "true" } }] });
const lbl = (...labels: string[]) => Object.fromEntries(labels.map((l) => [`${RBAC}/${l}`, "true"]));

/** Made-up, in the shape kube bootstrap-policy prints. */
const reference: BootstrapPolicy = {
  clusterRoles: [
    {
      metadata: { name: "cluster-admin", labels: defaults },
      rules: [everything, { nonResourceURLs: ["*"], verbs: ["*"] }],
    },
    {
      metadata: { name: "system:pod-reader", labels: defaults },
      rules: [readPods, { nonResourceURLs: ["/healthz/*"], verbs: ["get"] }],
    },
    { metadata: { name: "admin" }, aggregationRule: sel("aggregate-to-admin"), rules: null },
    {
      metadata: { name: "view", labels: lbl("aggregate-to-admin") },
      aggregationRule: sel("aggregate-to-view"),
      rules: null,
    },
    { metadata: { name: "system:aggregate-to-view", labels: lbl("aggregate-to-view") }, rules: [readPods] },
    { metadata: { name: "system:aggregate-to-admin", labels: lbl("aggregate-to-admin") }, rules: [readDeployments] },
  ],
  clusterRoleBindings: [
    {
      metadata: { name: "cluster-admin" },
      roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: "cluster-admin" },
      subjects: [admins],
    },
  ],
  roles: [{ metadata: { name: "system:leader", namespace: "kube-system" }, rules: [readPods] }],
  roleBindings: [
    {
      metadata: { name: "system:leader", namespace: "kube-system" },
      roleRef: { apiGroup: RBAC, kind: "Role", name: "system:leader" },
      subjects: [{ kind: "ServiceAccount", name: "leader", namespace: "kube-system" }],
    },
  ],
};

type Obj = Record<string, unknown> & { metadata: Record<string, unknown> };
const names = (lists: { kind: string; items: Obj[] }[], ref: BootstrapPolicy = reference) =>
  auditedObjects(lists as never, ref).map((o) => `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`);
const crb = (name: string, role: string, subjects: unknown[], labels?: Record<string, string>): Obj => ({
  metadata: { name, labels },
  roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: role },
  subjects,
});
const cr = (name: string, rules: unknown[], extra: Record<string, unknown> = {}): Obj => ({
  metadata: { name, labels: { ...defaults, ...((extra.labels as object) ?? {}) } },
  rules,
  ...(extra.aggregationRule ? { aggregationRule: extra.aggregationRule } : {}),
});

describe("auditedObjects: Kubernetes' bootstrap RBAC objects, by name and content", () => {
  it("a binding named system:anything to cluster-admin is judged, label rbac-defaults or not", () => {
    const user = { kind: "User", apiGroup: RBAC, name: "estagiario" };
    expect(
      names([
        {
          kind: "ClusterRoleBinding",
          items: [crb("system:anything", "cluster-admin", [user], defaults), crb("system:other", "view", [user])],
        },
      ]),
    ).toEqual(["ClusterRoleBinding /system:anything", "ClusterRoleBinding /system:other"]);
  });

  it("the built-in binding is exempt with its roleRef and its subjects, or some of them; not with others", () => {
    const list = (...items: Obj[]) => [{ kind: "ClusterRoleBinding", items }];
    expect(names(list(crb("cluster-admin", "cluster-admin", [admins], defaults)))).toEqual([]);
    // The API server leaves apiGroup to its default; fewer subjects grant less.
    expect(names(list(crb("cluster-admin", "cluster-admin", [{ kind: "Group", name: "system:masters" }])))).toEqual([]);
    expect(names(list(crb("cluster-admin", "cluster-admin", [])))).toEqual([]);
    expect(
      names(list(crb("cluster-admin", "cluster-admin", [admins, { kind: "User", apiGroup: RBAC, name: "x" }]))),
    ).toEqual(["ClusterRoleBinding /cluster-admin"]);
    expect(names(list(crb("cluster-admin", "system:pod-reader", [admins])))).toEqual([
      "ClusterRoleBinding /cluster-admin",
    ]);
    // Same name, other kind: a RoleBinding cluster-admin is not the ClusterRoleBinding.
    expect(
      names([
        {
          kind: "RoleBinding",
          items: [
            { ...crb("cluster-admin", "cluster-admin", [admins]), metadata: { name: "cluster-admin", namespace: "x" } },
          ],
        },
      ]),
    ).toEqual(["RoleBinding x/cluster-admin"]);
  });

  it("a built-in role is exempt while its every rule is one of the reference's (or within one); one more rule and it is judged", () => {
    const list = (...items: Obj[]) => [{ kind: "ClusterRole", items }];
    expect(names(list(cr("cluster-admin", [everything, { nonResourceURLs: ["*"], verbs: ["*"] }])))).toEqual([]);
    expect(
      names(
        list(cr("system:pod-reader", [{ apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: ["a"] }])),
      ),
    ).toEqual([]);
    expect(names(list(cr("system:pod-reader", [{ nonResourceURLs: ["/healthz/etcd"], verbs: ["get"] }])))).toEqual([]);
    for (const extra of [
      { apiGroups: [""], resources: ["pods"], verbs: ["delete"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
      { apiGroups: ["*"], resources: ["pods"], verbs: ["get"] },
      { nonResourceURLs: ["/metrics"], verbs: ["get"] },
    ])
      expect(names(list(cr("system:pod-reader", [readPods, extra])))).toEqual(["ClusterRole /system:pod-reader"]);
    // A role the reference doesn't know, whatever its name and labels.
    expect(names(list(cr("system:made-up", [readPods])))).toEqual(["ClusterRole /system:made-up"]);
    // An aggregationRule the built-in hasn't.
    expect(names(list(cr("system:pod-reader", [readPods], { aggregationRule: sel("aggregate-to-view") })))).toEqual([
      "ClusterRole /system:pod-reader",
    ]);
  });

  it("namespaced built-ins are exempt in their namespace only", () => {
    const role = (ns: string): Obj => ({ metadata: { name: "system:leader", namespace: ns }, rules: [readPods] });
    const binding = (ns: string, sa = "leader"): Obj => ({
      metadata: { name: "system:leader", namespace: ns },
      roleRef: { apiGroup: RBAC, kind: "Role", name: "system:leader" },
      subjects: [{ kind: "ServiceAccount", name: sa, namespace: "kube-system" }],
    });
    expect(
      names([
        { kind: "Role", items: [role("kube-system"), role("cartorio")] },
        {
          kind: "RoleBinding",
          items: [binding("kube-system"), binding("cartorio"), { ...binding("kube-system", "x") }],
        },
      ]),
    ).toEqual([
      "Role cartorio/system:leader",
      "RoleBinding cartorio/system:leader",
      "RoleBinding kube-system/system:leader",
    ]);
  });

  it("an aggregated built-in holds what the built-ins its selectors match hold, and what judged roles bring", () => {
    const view = (rules: unknown[], aggregationRule: unknown = sel("aggregate-to-view")) =>
      cr("view", rules, { labels: lbl("aggregate-to-admin"), aggregationRule });
    const admin = (rules: unknown[]) => cr("admin", rules, { aggregationRule: sel("aggregate-to-admin") });
    const fluxRule = { apiGroups: ["source.toolkit.fluxcd.io"], resources: ["*"], verbs: ["get", "list", "watch"] };
    // A role of someone else's, aggregated into view and, through view, into admin: it is judged itself.
    const fluxView: Obj = { metadata: { name: "flux-view", labels: lbl("aggregate-to-view") }, rules: [fluxRule] };
    const builtins = [cr("system:aggregate-to-view", [readPods]), cr("system:aggregate-to-admin", [readDeployments])];
    expect(
      names([{ kind: "ClusterRole", items: [...builtins, view([readPods]), admin([readDeployments, readPods])] }]),
    ).toEqual([]);
    expect(
      names([
        {
          kind: "ClusterRole",
          items: [...builtins, fluxView, view([readPods, fluxRule]), admin([readDeployments, readPods, fluxRule])],
        },
      ]),
    ).toEqual(["ClusterRole /flux-view"]);
    // A rule that no matched role holds; or a changed aggregationRule.
    expect(
      names([{ kind: "ClusterRole", items: [...builtins, view([readPods, fluxRule]), admin([readDeployments])] }]),
    ).toEqual(["ClusterRole /view"]);
    expect(names([{ kind: "ClusterRole", items: [...builtins, admin([readDeployments, everything])] }])).toEqual([
      "ClusterRole /admin",
    ]);
    expect(names([{ kind: "ClusterRole", items: [view([readPods], sel("aggregate-to-admin"))] }])).toEqual([
      "ClusterRole /view",
    ]);
  });

  it("without a reference, nothing is exempt as Kubernetes' own", () => {
    expect(
      auditedObjects([
        { kind: "ClusterRoleBinding", items: [crb("cluster-admin", "cluster-admin", [admins], defaults) as never] },
      ]),
    ).toHaveLength(1);
  });
});

describe("auditedObjects: objects a controller owns", () => {
  const ref = (kind: string, uid: string) => ({ apiVersion: "apps/v1", kind, name: "x", uid, controller: true });
  const obj = (name: string, uid: string, ns = "cartorio", owner?: unknown): Obj => ({
    metadata: { name, namespace: ns, uid, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: {},
  });
  const privileged = (owner: unknown, ns = "cartorio"): Obj => ({
    metadata: { name: "p", namespace: ns, uid: "pod-uid", ownerReferences: [owner] },
    spec: { containers: [{ name: "c", securityContext: { privileged: true } }] },
  });

  it("a Pod of a ReplicaSet of a Deployment is judged through the Deployment", () => {
    expect(
      names([
        { kind: "Deployment", items: [obj("d", "d-uid")] },
        { kind: "ReplicaSet", items: [obj("rs", "rs-uid", "cartorio", ref("Deployment", "d-uid"))] },
        { kind: "Pod", items: [privileged(ref("ReplicaSet", "rs-uid"))] },
      ]),
    ).toEqual(["Deployment cartorio/d"]);
  });

  it("a Pod whose owner is not there, not of the kind it says, not audited or in another namespace is judged", () => {
    const lists = (owner: unknown, ns?: string) => [
      { kind: "Namespace", items: [{ metadata: { name: "cartorio", uid: "ns-uid" } }] },
      { kind: "ReplicaSet", items: [obj("rs", "rs-uid")] },
      { kind: "Pod", items: [privileged(owner, ns)] },
    ];
    const judged = (owner: unknown, ns?: string) => names(lists(owner, ns)).filter((n) => n.startsWith("Pod "));
    expect(judged(ref("ReplicaSet", "rs-uid"))).toEqual([]);
    expect(judged(ref("ReplicaSet", "3f1c0c38-6f8e-4c7e-9f59-0d0f2b8f7a11"))).toEqual(["Pod cartorio/p"]);
    expect(judged(ref("StatefulSet", "rs-uid"))).toEqual(["Pod cartorio/p"]);
    expect(judged(ref("Namespace", "ns-uid"))).toEqual(["Pod cartorio/p"]);
    expect(judged({ ...ref("Node", "node-uid") })).toEqual(["Pod cartorio/p"]);
    expect(judged(ref("ReplicaSet", "rs-uid"), "other")).toEqual(["Pod other/p"]);
    // An owner reference that isn't the controller's hides nothing either.
    expect(judged({ ...ref("ReplicaSet", "rs-uid"), controller: false })).toEqual(["Pod cartorio/p"]);
  });

  it("an owner is judged even when it names an owner itself, unless that one makes its kind: no loop hides both", () => {
    expect(
      names([
        { kind: "Deployment", items: [obj("d", "d-uid", "cartorio", ref("ReplicaSet", "rs-uid"))] },
        { kind: "ReplicaSet", items: [obj("rs", "rs-uid", "cartorio", ref("Deployment", "d-uid"))] },
        { kind: "Pod", items: [privileged(ref("ReplicaSet", "rs-uid"))] },
      ]),
    ).toEqual(["Deployment cartorio/d"]);
  });
});

describe("ruleCovers", () => {
  it("reads * and */subresource, every name when the built-in lists none, URL prefixes", () => {
    expect(ruleCovers(everything, { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["patch"] })).toBe(
      true,
    );
    expect(
      ruleCovers(
        { apiGroups: ["apps"], resources: ["*/scale"], verbs: ["get"] },
        { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get"] },
      ),
    ).toBe(true);
    expect(
      ruleCovers(
        { apiGroups: ["apps"], resources: ["*/scale"], verbs: ["get"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] },
      ),
    ).toBe(false);
    const named = { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["a"] };
    expect(ruleCovers(named, { ...named, resourceNames: ["a"] })).toBe(true);
    expect(ruleCovers(named, { ...named, resourceNames: [] })).toBe(false);
    expect(
      ruleCovers(
        { nonResourceURLs: ["/livez/*"], verbs: ["get"] },
        { nonResourceURLs: ["/livez/ping"], verbs: ["get"] },
      ),
    ).toBe(true);
    expect(
      ruleCovers({ nonResourceURLs: ["/livez"], verbs: ["get"] }, { nonResourceURLs: ["/livez/ping"], verbs: ["get"] }),
    ).toBe(false);
  });
});

describe("loadBootstrapPolicy and readLiveObjects", () => {
  /** A stand-in for kube: prints the policy and counts its runs. */
  function fakeKube(body = JSON.stringify(reference)): { kube: string; runs: () => number; cacheDir: string } {
    const dir = tempDir("audit-kube");
    const kube = path.join(dir, "kube");
    fs.writeFileSync(path.join(dir, "policy.json"), body);
    fs.writeFileSync(
      kube,
      `#!/bin/sh\n[ "$1" = bootstrap-policy ] || { echo "usage: kube <tool>" >&2; exit 2; }\necho run >> "${dir}/runs"\ncat "${dir}/policy.json"\n`,
      { mode: 0o755 },
    );
    const runs = () =>
      fs.existsSync(path.join(dir, "runs"))
        ? fs.readFileSync(path.join(dir, "runs"), "utf8").split("\n").length - 1
        : 0;
    return { kube, runs, cacheDir: path.join(dir, ".local") };
  }

  it("asks the binary once per build of it (path, size and mtime), then reads .local", () => {
    const k = fakeKube();
    expect(loadBootstrapPolicy(k)).toEqual(reference);
    expect(loadBootstrapPolicy(k)).toEqual(reference);
    expect(k.runs()).toBe(1);
    expect(fs.existsSync(path.join(k.cacheDir, "bootstrap-policy.json"))).toBe(true);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(k.kube, later, later);
    expect(loadBootstrapPolicy(k)).toEqual(reference);
    expect(k.runs()).toBe(2);
  });

  it("a kube without the tool, or printing something else, is an error; readLiveObjects then judges nothing", async () => {
    const old = fakeKube();
    fs.writeFileSync(old.kube, `#!/bin/sh\necho "usage: kube <tool> [args...]" >&2\nexit 2\n`);
    expect(() => loadBootstrapPolicy(old)).toThrow(
      /bootstrap-policy failed \(usage: kube <tool>.*rebuild the toolchain/,
    );
    expect(() => loadBootstrapPolicy(fakeKube("[]"))).toThrow(/printed something else/);
    let listed = 0;
    const get = async <T>(): Promise<T | string> => {
      listed++;
      return { items: [] } as T;
    };
    const res = await readLiveObjects(get, () => loadBootstrapPolicy(old));
    expect(res).toMatch(/^cannot have Kubernetes' bootstrap RBAC policy/);
    expect(listed).toBe(0);
  });
});
