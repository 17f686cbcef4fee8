/**
 * The one configuration model of cartorio-plataforma.
 *
 * Every value a stack can set is declared here once, with its default; the
 * stack files (Pulumi.<stack>.yaml) only say where a stack differs. No Pulumi
 * import: operator commands and tests load this without the SDK.
 */
import { z } from "zod";

/** Config namespace: the Pulumi project name. */
export const CONFIG_NAMESPACE = "cartorio-plataforma";

// GitHub's rules for owner and repository names (what its API accepts).
const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const GITHUB_REPOSITORY = /^[A-Za-z0-9._-]{1,100}$/;
// Kubernetes DNS-1123 label (namespaces, names of most objects).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// A git branch name, conservatively (git check-ref-format rules that matter here).
const BRANCH = /^(?!\/|.*\/$|.*\.\.|.*\/\/|.*@\{|.*\.lock$)[A-Za-z0-9._/-]+$/;
// One known_hosts line: host[,host] keytype base64-key.
const KNOWN_HOSTS_LINE = /^(\S+)\s+(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa)\s+[A-Za-z0-9+/]+={0,2}(\s.*)?$/;
const SEMVER_TAG = /^v\d+\.\d+\.\d+$/;
const SHA256_HEX = /^[a-f0-9]{64}$/;
const IMAGE_DIGEST = /^sha256:[a-f0-9]{64}$/;
const DURATION = /^(\d+h)?(\d+m)?(\d+s)?$/;

// Kubernetes label value: at most 63, alphanumeric at both ends, '-', '_' and '.' inside.
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
// Replica counts and policy values are int32 in the Kubernetes API.
const INT32_MAX = 2147483647;

const labelValue = (what: string) =>
  z
    .string()
    .regex(
      LABEL_VALUE,
      `expected ${what} usable as a Kubernetes label value (letters, digits, '-', '_' or '.', at most 63, alphanumeric at both ends)`,
    );

const dnsLabel = (what: string) =>
  z.string().regex(DNS_LABEL, `expected a DNS-1123 label for ${what} (lowercase letters, digits and '-', at most 63)`);

const duration = z
  .string()
  .regex(DURATION, "expected a Go duration: whole numbers with h, m or s and no spaces, such as 1m, 10m or 1h30m")
  .refine((s) => s.length > 0, "expected a non-empty duration such as 1m");

const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}, "expected an absolute http(s) URL such as https://cartorio.example.gov.br");

/** Which areas a stack turns on. Unknown flags are errors, not ignored. */
export const featuresSchema = z
  .object({
    gitops: z.boolean().default(true),
    repositoryHardening: z.boolean().default(false),
    keys: z.boolean().default(true),
    scaling: z.boolean().default(true),
    loadtest: z.boolean().default(false),
  })
  .strict();

export const kubernetesSchema = z
  .object({
    /** render: write YAML to renderDirectory (no cluster); cluster: apply through kubeconfig. */
    mode: z.enum(["render", "cluster"]).default("cluster"),
    renderDirectory: z.string().min(1).default("rendered/local"),
    /**
     * kubeconfig file in cluster mode, relative to the project or absolute; empty means the ambient one
     * (KUBECONFIG, else ~/.kube/config). A path, never the file's contents: the credentials stay out of state.
     */
    kubeconfig: z.string().default(""),
    /** kubeconfig context; empty means the file's current context. */
    context: z.string().default(""),
  })
  .strict();

/** Every controller a Flux release ships. */
export const FLUX_CONTROLLERS = [
  "source-controller",
  "kustomize-controller",
  "helm-controller",
  "notification-controller",
  "image-reflector-controller",
  "image-automation-controller",
  "source-watcher",
] as const;

export const fluxSchema = z
  .object({
    version: z.string().regex(SEMVER_TAG, "expected a pinned Flux release such as v2.9.5").default("v2.9.5"),
    /**
     * embedded: the release's install.yaml assembled at build time from the controllers' pinned Go modules (no
     * download at run time; the Go checksum database vouches for every module); upstream: the release's
     * install.yaml downloaded from GitHub; mirror: the same file from an internal mirror; both verified against
     * manifestSha256. preinstalled: the controllers come from elsewhere (Flux Operator, a platform image), only
     * the sync is declared.
     */
    source: z.enum(["upstream", "mirror", "embedded", "preinstalled"]).default("embedded"),
    mirrorUrl: httpUrl.optional(),
    /** sha256 of the release's install.yaml (upstream, mirror): a download that differs is refused. */
    manifestSha256: z.string().regex(SHA256_HEX, "expected the 64 hex digits of sha256sum install.yaml").optional(),
    /**
     * The controllers' image digests (controller -> sha256:...), pinned into their Deployments as
     * ghcr.io/fluxcd/<controller>:<tag>@<digest>. Read them where the images are published (e.g.
     * `crane digest ghcr.io/fluxcd/source-controller:v1.9.5`, or the release's signed OCI artifact) and
     * record them here with the version; a controller without one keeps its tag and needs the catalogue's
     * exception to the digest rule.
     */
    imageDigests: z
      .record(
        z.enum(FLUX_CONTROLLERS),
        z.string().regex(IMAGE_DIGEST, "expected an image digest sha256:<64 hex digits>"),
      )
      .default({}),
    components: z
      .array(z.enum(["source-controller", "kustomize-controller", "helm-controller", "notification-controller"]))
      // notification-controller is in `flux bootstrap`'s default set, but its module is not served by the Go
      // proxy here, so the embedded source cannot carry it; add it where the release's install.yaml is used.
      .default(["source-controller", "kustomize-controller", "helm-controller"]),
    componentsExtra: z
      .array(z.enum(["image-reflector-controller", "image-automation-controller", "source-watcher"]))
      .default([]),
    networkPolicy: z.boolean().default(true),
    /**
     * Whether `pulumi up` waits for the controllers' Deployments to be available. false only where no
     * kubelet runs their pods (the embedded cluster, whose controllers run as processes beside it); the
     * sync wait (gitops.syncTimeout) still proves they work.
     */
    awaitControllers: z.boolean().default(true),
    tolerationKeys: z.array(z.string().min(1)).default([]),
    interval: duration.default("1m"),
    kustomizationInterval: duration.default("10m"),
    keyAlgorithm: z.enum(["ecdsa-p384", "ed25519"]).default("ecdsa-p384"),
    /** known_hosts for the Git host, pinned here: never scanned at run time. */
    knownHosts: z
      .string()
      .refine(
        (s) =>
          s
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l && !l.startsWith("#"))
            .every((l) => KNOWN_HOSTS_LINE.test(l)) && s.trim().length > 0,
        "expected known_hosts lines 'host keytype base64key' (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)",
      )
      .default(
        // github.com's published host keys (docs.github.com, "GitHub's SSH key fingerprints").
        [
          "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
          "github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",
        ].join("\n"),
      ),
  })
  .strict();

export const teamsSchema = z
  .object({
    // Team slugs also label what each team owns (cartorio.digital/owner).
    application: labelValue("a team slug").default("time-aplicacao"),
    security: labelValue("a team slug").default("time-seguranca"),
    infrastructure: labelValue("a team slug").default("time-infraestrutura"),
    /** Who approves deployments to the producao environment. */
    deployReviewers: labelValue("a team slug").default("time-infraestrutura"),
    /**
     * Break glass: the team that may merge a pull request whose required checks fail (the check itself broken,
     * an expired exception), through the PR only, so the PR, its checks and the bypass stay on record.
     */
    breakGlass: labelValue("a team slug").default("time-seguranca"),
  })
  .strict();

export const gitopsSchema = z
  .object({
    owner: z
      .string()
      .regex(GITHUB_OWNER, "expected a GitHub owner: letters, digits and single '-', at most 39, no leading '-'")
      .default("cartorio-digital"),
    repository: z
      .string()
      .regex(GITHUB_REPOSITORY, "expected a GitHub repository name: letters, digits, '.', '_' or '-', at most 100")
      .refine((s) => s !== "." && s !== "..", "expected a repository name other than '.' or '..'")
      .default("infraestrutura"),
    branch: z
      .string()
      .min(1, "expected a non-empty branch name such as main")
      .regex(BRANCH, "expected a valid git branch name such as main")
      .default("main"),
    path: z
      .string()
      .regex(
        /^(\.\/)?clusters\/[a-z0-9][a-z0-9-]*(\/[a-z0-9][a-z0-9-]*)*$/,
        "expected a path under clusters/, such as clusters/producao",
      )
      .default("clusters/producao"),
    flux: fluxSchema.default({}),
    /** Where the sync reads the repository from. */
    git: z
      .object({
        /**
         * github: ssh://git@github.com/<owner>/<repository>, the deploy key registered by RepositoryHardening.
         * local: the embedded cluster's Git server (npm run cluster), which this program authorizes the deploy key
         * on, read-only; its address and host key are read from localDir (written by the server itself, never scanned).
         */
        server: z.enum(["github", "local"]).default("github"),
        /** The local server's folder, relative to the project or absolute. */
        localDir: z.string().min(1).default(".local/cluster/git"),
      })
      .strict()
      .default({}),
    /**
     * How the GitHub resources (RepositoryHardening) are sent. github: through @pulumi/github to the
     * organisation (GITHUB_TOKEN). record: nothing is sent; each request is written as JSON under recordDir
     * (the ensaio stack: GitHub's side reviewed as data).
     */
    github: z
      .object({
        api: z.enum(["github", "record"]).default("github"),
        /** Folder of the recorded requests (record), relative to the project or absolute. */
        recordDir: z.string().min(1).default(".local/ensaio/github"),
      })
      .strict()
      .default({}),
    /**
     * How long `pulumi up` waits for the sync to be Ready at the repository's revision, like `flux bootstrap`
     * (its --timeout is 5m); 0s does not wait.
     */
    syncTimeout: z
      .string()
      .regex(
        DURATION,
        "expected a Go duration: whole numbers with h, m or s and no spaces, such as 5m, 90s or 1h30m (0s: no wait)",
      )
      .default("5m"),
    teams: teamsSchema.default({}),
    /** Known team slugs of the organisation; team references must be among them when set. */
    knownTeams: z.array(z.string().min(1)).default([]),
    /**
     * The deploy identity: the GitHub App (Integration) or team that `pulumi up` acts as, by numeric id.
     * The ruleset lets it bypass the PR rule, because the provider commits .github/CODEOWNERS straight to
     * the branch; required with features.repositoryHardening.
     */
    automation: z
      .object({
        actorType: z.enum(["Integration", "Team"]),
        actorId: z
          .number({ invalid_type_error: "expected the numeric id of the GitHub App or team" })
          .int("expected the numeric id of the GitHub App or team")
          .positive("expected the numeric id of the GitHub App or team"),
      })
      .strict()
      .optional(),
    /**
     * Signed history: the ruleset requires signed commits, and Flux verifies every commit it would apply
     * against the maintainers' keys (GitRepository.spec.verify, mode HEAD), so an unsigned or foreign
     * commit never reaches the cluster. Needs at least one key in maintainerKeys.
     */
    requireSignedCommits: z.boolean().default(false),
    /**
     * Folder of the maintainers' public keys (relative to the project), owned by the security team:
     * <name>.asc (OpenPGP, gpg --armor --export) or <name>.sshpub (SSH signing key), source-controller's suffixes.
     */
    maintainerKeys: z.string().min(1).default("configs/gitops/maintainers"),
    /** The PR workflow's check names that the ruleset on the branch requires. */
    requiredChecks: z.array(z.string().min(1)).default(["typecheck", "lint", "test", "conftest", "preview"]),
  })
  .strict();

export const workloadSchema = z
  .object({
    namespace: dnsLabel("the namespace").default("cartorio"),
    deployment: dnsLabel("the deployment").default("cartorio-api"),
    /** Folder of the workload manifests Flux applies (relative to the project). */
    manifestsDir: z.string().min(1).default("manifests"),
    /** LGPD data-classification label value of the namespace. */
    dataClassification: z.enum(["publico", "interno", "confidencial", "restrito"]).default("confidencial"),
    owner: labelValue("the owner").default("time-aplicacao"),
  })
  .strict();

const scalingPolicy = z
  .object({
    type: z.enum(["Pods", "Percent"]),
    value: z.number().int().positive("expected a positive integer").max(INT32_MAX, "expected at most 2147483647"),
    periodSeconds: z.number().int().min(1).max(1800, "expected periodSeconds between 1 and 1800"),
  })
  .strict();

const scalingRules = z
  .object({
    stabilizationWindowSeconds: z
      .number()
      .int()
      .min(0, "expected a window between 0 and 3600 seconds")
      .max(3600, "expected a window between 0 and 3600 seconds"),
    selectPolicy: z.enum(["Max", "Min", "Disabled"]).default("Max"),
    policies: z.array(scalingPolicy).min(1, "expected at least one scaling policy"),
  })
  .strict();

const utilisation = z
  .number()
  .int("expected an integer percentage")
  .min(1, "expected a utilisation target between 1 and 100")
  .max(100, "expected a utilisation target between 1 and 100");

const nodePoolSchema = z
  .object({
    nodes: z
      .number()
      .int("expected an integer")
      .min(1, "expected at least 1 node")
      .max(50, "expected at most 50 nodes")
      .default(3),
    /** Allocatable CPU of one node, in cores. */
    cpu: z.number().positive("expected a positive number of cores").default(8),
    /** Allocatable memory of one node, in GiB. */
    memoryGiB: z.number().positive("expected a positive size in GiB").default(32),
    pods: z.number().int().min(1, "expected at least 1 pod per node").max(1000).default(110),
    /** topology.kubernetes.io/zone of each node, round robin. */
    zones: z
      .array(labelValue("a zone"))
      .min(1, "expected at least one zone")
      .default(["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
    taints: z
      .array(
        z
          .object({
            key: z.string().min(1),
            value: z.string().default(""),
            effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const scalingSchema = z
  .object({
    minReplicas: z.number().int("expected an integer").min(1, "expected at least 1 replica").default(3),
    maxReplicas: z
      .number()
      .int("expected an integer")
      .min(1, "expected at least 1 replica")
      .max(INT32_MAX, "expected at most 2147483647")
      .default(20),
    cpuUtilization: utilisation.default(70),
    memoryUtilization: utilisation.default(80),
    behavior: z
      .object({
        scaleUp: scalingRules.default({
          stabilizationWindowSeconds: 0,
          selectPolicy: "Max",
          policies: [
            { type: "Percent", value: 100, periodSeconds: 15 },
            { type: "Pods", value: 4, periodSeconds: 15 },
          ],
        }),
        scaleDown: scalingRules.default({
          stabilizationWindowSeconds: 300,
          selectPolicy: "Max",
          policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
        }),
      })
      .strict()
      .default({}),
    /** Requests per second one replica sustains at the CPU target, until a load test measures it. */
    replicaThroughputRps: z.number().nonnegative("expected a non-negative rate").default(50),
    /** Spare capacity over the computed need, as a fraction (0.2 = 20 %). */
    headroom: z.number().min(0, "expected a fraction ≥ 0").max(1, "expected a fraction ≤ 1").default(0.2),
    /**
     * The node pool the plan assumes cartorio-api runs on. producao states its own; the embedded
     * cluster (npm run cluster) simulates a pool of this shape with kwok, so the scheduler places
     * pods against the same allocatable, zones and taints.
     */
    nodePool: nodePoolSchema.default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.minReplicas > s.maxReplicas) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["minReplicas"],
        message: `expected minReplicas (${s.minReplicas}) ≤ maxReplicas (${s.maxReplicas})`,
        // The two keys compared, lower first: the error names the one the stack wrote (load.ts).
        params: { order: ["minReplicas", "maxReplicas"] },
      });
    }
  });

export const kmsSchema = z
  .object({
    /** Key inventory file, relative to the project. */
    inventory: z.string().min(1).default("configs/kms/producao.yaml"),
    /** PKCS#11 module of the HSM vendor. */
    module: z.string().min(1).default("/usr/lib/softhsm/libsofthsm2.so"),
    /**
     * Environment variable that holds the user PIN; the PIN itself never enters config or state. Fixed, not
     * chosen per stack: a PR could otherwise point it at any variable its job has (a token, a URL), and every
     * login with that value as the PIN burns one of the token's PIN tries. Only the deploy steps that log in
     * set it (.github/workflows/deploy.yml); PR jobs have no PIN at all.
     */
    pinEnv: z
      .literal("CARTORIO_HSM_PIN", {
        errorMap: () => ({
          message:
            "expected CARTORIO_HSM_PIN, the one variable the deploy steps set: the PIN's variable is fixed, so no configuration can make the program log in with another variable's value (each failed login burns a PIN try); remove the key",
        }),
      })
      .default("CARTORIO_HSM_PIN"),
  })
  .strict();

const imageByDigest = z
  .string()
  .regex(/^[^\s@]+@sha256:[0-9a-f]{64}$/, "expected an image pinned by digest, e.g. grafana/k6@sha256:<64 hex>");
const quantity = z
  .string()
  .regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, "expected a Kubernetes quantity such as 500m or 256Mi");
const podResources = z
  .object({
    requests: z.object({ cpu: quantity, memory: quantity }).strict(),
    limits: z.object({ cpu: quantity, memory: quantity }).strict(),
  })
  .strict();

export const loadtestSchema = z
  .object({
    mode: z.enum(["gate", "advisory"]).default("gate"),
    /** Base URL under test; without it the load gate stays off. */
    target: httpUrl.optional(),
    script: z.string().min(1).default("testes/performance/producao.js"),
    k6Path: z.string().min(1).default("k6"),
    timeoutSeconds: z.number().int().positive("expected a positive number of seconds").default(900),
    /** A value that forces a new run when it changes, e.g. the deployed image digest. */
    trigger: z.string().default(""),
    /** Where the run's progress is written, line by line, while it runs. */
    progressFile: z.string().min(1).default(".local/loadtest/progress.log"),
    /** More load than one generator gives: a k6-operator TestRun with this many runners (1 = run k6 here). */
    parallelism: z.number().int().min(1).max(100).default(1),
    /** The TestRun's pods when parallelism > 1 (k6-operator v1.6.0's API). */
    distributed: z
      .object({
        /** k6 image of the runners and the initializer, pinned by digest (required with parallelism > 1). */
        runnerImage: imageByDigest.optional(),
        /** The operator's starter image, pinned by digest (required with parallelism > 1). */
        starterImage: imageByDigest.optional(),
        /** Namespace the operator runs in: it calls the runners' :6565 (setup, status, teardown). */
        operatorNamespace: z.string().min(1).default("k6-operator-system"),
        runnerResources: podResources.default({
          requests: { cpu: "500m", memory: "256Mi" },
          limits: { cpu: "2", memory: "1Gi" },
        }),
        starterResources: podResources.default({
          requests: { cpu: "50m", memory: "16Mi" },
          limits: { cpu: "100m", memory: "64Mi" },
        }),
      })
      .strict()
      .default({}),
    profile: z
      .object({
        baselineRps: z.number().nonnegative("expected a non-negative rate").default(40),
        peakRps: z.number().positive("expected a positive rate").default(200),
        peakDurationSeconds: z.number().int().positive("expected a positive duration").default(600),
        rampSeconds: z.number().int().nonnegative().default(60),
        preAllocatedVUs: z.number().int().positive().default(50),
        maxVUs: z.number().int().positive().default(400),
      })
      .strict()
      .default({}),
    thresholds: z
      .object({
        p95Ms: z.number().positive().default(500),
        p99Ms: z.number().positive().default(1500),
        errorRate: z.number().min(0).max(1).default(0.01),
        minSamples: z.number().int().positive().default(100),
        /**
         * The latency and error thresholds stop the run once crossed (abortOnFail), judged from this many
         * seconds after the start (delayAbortEval), so a failing service is not kept under peak load.
         */
        abortDelaySeconds: z.number().int().min(1).max(600).default(10),
      })
      .strict()
      .default({}),
    /**
     * The capacity the plan uses, measured: a stepped run (testes/performance/capacidade.js) against a
     * deployment held at a fixed replica count, judged per step against the thresholds above. Without a
     * target, no capacity run: the plan uses scaling.replicaThroughputRps and says it is not measured.
     */
    capacity: z
      .object({
        /** Base URL of the deployment under measurement (its own Service, not the citizens' traffic). */
        target: httpUrl.optional(),
        /** The Deployment behind target; in cluster mode the run starts only if it holds `replicas`. */
        deployment: z
          .object({ namespace: z.string().min(1), name: z.string().min(1) })
          .strict()
          .optional(),
        /** Replicas the deployment runs, fixed for the run; the capacity per replica is divided by it. */
        replicas: z.number().int().min(1, "expected at least 1 replica").optional(),
        script: z.string().min(1).default("testes/performance/capacidade.js"),
        startRps: z.number().positive("expected a positive rate").default(10),
        stepRps: z.number().positive("expected a positive rate").default(10),
        steps: z.number().int().min(2, "expected at least 2 steps").max(99).default(10),
        stepSeconds: z.number().int().min(2, "expected at least 2 s per step").default(60),
        maxVUs: z.number().int().positive().default(400),
        /** Forces a new run when it changes; default: the images manifests/ declares for the workload. */
        trigger: z.string().default(""),
        progressFile: z.string().min(1).default(".local/loadtest/capacidade.log"),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.parallelism > 1) {
      for (const key of ["runnerImage", "starterImage"] as const) {
        if (l.distributed[key] === undefined)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ["distributed", key],
            message: `parallelism ${l.parallelism} runs a TestRun whose pods need images pinned by digest: set loadtest.distributed.${key} (e.g. ${key === "runnerImage" ? "grafana/k6" : "ghcr.io/grafana/k6-operator"}@sha256:<digest from your registry>)`,
          });
      }
    }
    const stepped = l.capacity.steps * l.capacity.stepSeconds;
    if (l.capacity.target !== undefined && stepped >= l.timeoutSeconds)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["capacity", "stepSeconds"],
        message: `the capacity run lasts up to ${l.capacity.steps} steps × ${l.capacity.stepSeconds} s = ${stepped} s, not less than loadtest.timeoutSeconds (${l.timeoutSeconds}): shorten the steps or raise the timeout`,
      });
    if (l.capacity.target !== undefined) {
      for (const key of ["replicas", "deployment"] as const) {
        if (l.capacity[key] === undefined)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ["capacity", key],
            message:
              key === "replicas"
                ? "a capacity run needs the fixed replica count it measures: set loadtest.capacity.replicas"
                : "a capacity run needs the Deployment behind its target, to check that its replicas are held: set loadtest.capacity.deployment {namespace, name}",
          });
      }
    }
    if (l.profile.baselineRps > l.profile.peakRps) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["profile", "baselineRps"],
        message: `expected baselineRps (${l.profile.baselineRps}) ≤ peakRps (${l.profile.peakRps})`,
        params: { order: ["baselineRps", "peakRps"] },
      });
    }
  });

export const evidenceSchema = z
  .object({
    /**
     * The trust anchor evidence:verify checks this stack's reports against (components/evidence/anchor.ts):
     * a file in the repository that only a reviewed PR changes, never read from the cluster.
     */
    anchor: z.string().min(1).default("configs/evidencias/producao.yaml"),
    /** Where the stack's evidence chain is kept on this machine: <directory>/<stack>/<UTC>-<sequence>-<commit>/. */
    directory: z.string().min(1).default("evidence"),
  })
  .strict();

export const admissionSchema = z
  .object({
    /**
     * Enforce the rulebook at admission: a validating webhook answered by OPA serving policies/ (the same Rego
     * conftest runs, with the catalogue's exceptions), failing closed for every namespace but exemptNamespaces.
     */
    enabled: z.boolean().default(true),
    /**
     * Where OPA runs. `local`: the embedded cluster's admission process (npm run cluster), reached at the URL
     * and CA of the cluster folder kubernetes.kubeconfig sits in; the rules are written there by pulumi up.
     * `in-cluster`: a Deployment the program declares in namespace cartorio-admissao, its rules a ConfigMap.
     */
    server: z.enum(["local", "in-cluster"]).default("in-cluster"),
    /** OPA's image for `in-cluster`, from the office's registry, pinned by digest. */
    image: z
      .string()
      .regex(/@sha256:[0-9a-f]{64}$/, "expected an image pinned by digest (…@sha256:<64 hex>)")
      .default(
        "registry.cartorio.example/mirror/openpolicyagent/opa:1.21.1-static@sha256:0d1ba5f5f9d4a0a43f7bb7b4a3bd0f4c9f8a45a2a3c8d1a7e1f5b3c2d9e8f7a6",
      ),
    /**
     * Namespaces the webhook never judges: their controllers must keep working when OPA is down (a fail-closed
     * webhook on kube-system or flux-system could lock the cluster out of its own repair).
     */
    exemptNamespaces: z
      .array(dnsLabel("a namespace"))
      .default(["kube-system", "kube-public", "kube-node-lease", "flux-system", "cartorio-admissao"]),
  })
  .strict();

/** The whole stack configuration, one key per area. */
export const platformSchema = z
  .object({
    features: featuresSchema.default({}),
    kubernetes: kubernetesSchema.default({}),
    gitops: gitopsSchema.default({}),
    workload: workloadSchema.default({}),
    scaling: scalingSchema.default({}),
    kms: kmsSchema.default({}),
    loadtest: loadtestSchema.default({}),
    evidence: evidenceSchema.default({}),
    admission: admissionSchema.default({}),
  })
  .strict();

export type PlatformConfig = z.infer<typeof platformSchema>;
export type Features = z.infer<typeof featuresSchema>;
export type GitopsConfig = z.infer<typeof gitopsSchema>;
export type ScalingConfig = z.infer<typeof scalingSchema>;
export type KmsConfig = z.infer<typeof kmsSchema>;
export type LoadtestConfig = z.infer<typeof loadtestSchema>;
export type WorkloadConfig = z.infer<typeof workloadSchema>;
export type KubernetesConfig = z.infer<typeof kubernetesSchema>;
export type EvidenceConfig = z.infer<typeof evidenceSchema>;
export type AdmissionConfig = z.infer<typeof admissionSchema>;

/** Top-level keys the model owns, in documentation order. */
export const CONFIG_KEYS = Object.keys(platformSchema.shape) as (keyof PlatformConfig)[];
