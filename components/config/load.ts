/**
 * Loading and validating stack configuration, without the Pulumi SDK.
 *
 * The same function serves the program (fed from the engine's config), the
 * operator commands and the tests (fed from Pulumi.<stack>.yaml). All problems
 * are collected and reported together, each naming the stack, the key, the bad
 * value and the expected form.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { inspect } from "node:util";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { CONFIG_KEYS, CONFIG_NAMESPACE, PlatformConfig, platformSchema } from "./schema";

export interface ConfigProblem {
  /** Full config key, e.g. cartorio-plataforma:scaling.minReplicas */
  key: string;
  /** The offending value, rendered short. */
  value: string;
  /** What was expected instead. */
  expected: string;
}

/**
 * One line per problem: the key the stack wrote, the value, what is allowed and how to fix it. With one
 * problem the whole message is that one line; with several, a line saying how many, then one line each.
 */
export function configMessage(stack: string, problems: ConfigProblem[]): string {
  const check = `fix Pulumi.${stack}.yaml, then check with: pulumi preview --stack ${stack}`;
  const line = (p: ConfigProblem) => `${p.key} = ${p.value}: ${p.expected}`;
  if (problems.length === 1) return `stack ${stack}: ${line(problems[0])}; nothing was changed (${check})`;
  return (
    `stack ${stack}: ${problems.length} configuration problem(s); nothing was changed (${check}):\n` +
    problems.map((p) => `  - ${line(p)}`).join("\n")
  );
}

export class ConfigError extends Error {
  constructor(
    /** The stack whose configuration this is (not `stack`: that is Error's own stack trace). */
    readonly stackName: string,
    readonly problems: ConfigProblem[],
  ) {
    super(configMessage(stackName, problems));
    this.name = "ConfigError";
  }

  /**
   * What console.error and util.inspect print (an operator command's uncaught error, Pulumi's report of
   * one): the message, never a stack trace or a dump of `problems`. The problems are the user's to fix,
   * not a fault in the program.
   */
  [inspect.custom](): string {
    return this.message;
  }
}

export interface LoadContext {
  stack: string;
  /** Folder holding Pulumi.yaml; relative paths in config resolve against it. */
  projectRoot: string;
}

/** Raw config as the engine or a stack file gives it: key without namespace -> value. */
export type RawConfig = Record<string, unknown>;

function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  const s = JSON.stringify(value);
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

function lookup(raw: RawConfig, p: (string | number)[]): unknown {
  let cur: unknown = raw;
  for (const seg of p) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function keyOf(p: (string | number)[]): string {
  if (p.length === 0) return `${CONFIG_NAMESPACE}:<root>`;
  const [head, ...rest] = p;
  return `${CONFIG_NAMESPACE}:${head}` + rest.map((s) => (typeof s === "number" ? `[${s}]` : `.${s}`)).join("");
}

function describeIssue(issue: z.ZodIssue): string {
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      if (issue.received === "undefined") return `expected a value of type ${issue.expected}; the key is required`;
      // A schema's own wording (invalid_type_error) says more than zod's default "Expected x, received y".
      return /^Expected /.test(issue.message)
        ? `expected ${issue.expected}, got ${issue.received}`
        : `${issue.message}, got ${issue.received}`;
    case z.ZodIssueCode.unrecognized_keys:
      return `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}; remove them or fix the spelling`;
    case z.ZodIssueCode.invalid_enum_value:
      return `expected one of ${issue.options.map((o) => String(o)).join(", ")}`;
    default:
      return issue.message.startsWith("expected") ? issue.message : `expected ${issue.message}`;
  }
}

/** Turns one stack's raw config into a validated PlatformConfig, or throws ConfigError with every problem. */
export function validateConfig(raw: RawConfig, ctx: LoadContext): PlatformConfig {
  const problems: ConfigProblem[] = [];
  const parsed = platformSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === z.ZodIssueCode.unrecognized_keys) {
        for (const k of issue.keys) {
          problems.push({
            key: keyOf([...issue.path, k]),
            value: show(lookup(raw, [...issue.path, k])),
            expected:
              issue.path.length === 0
                ? `unknown key; expected one of ${CONFIG_KEYS.join(", ")}`
                : "unknown key; remove it or fix the spelling (see the config reference in README.md)",
          });
        }
        continue;
      }
      const order = issue.code === z.ZodIssueCode.custom ? (issue.params?.order as [string, string]) : undefined;
      if (order) {
        problems.push(orderProblem(raw, issue.path.slice(0, -1), order, issue.message));
        continue;
      }
      const value = lookup(raw, issue.path);
      const hint = /Go duration/.test(issue.message) ? durationHint(value) : "";
      problems.push({ key: keyOf(issue.path), value: show(value), expected: describeIssue(issue) + hint });
    }
    throw new ConfigError(ctx.stack, mergeByKey(problems));
  }
  const cfg = parsed.data;
  problems.push(...crossChecks(cfg, ctx));
  if (problems.length > 0) throw new ConfigError(ctx.stack, problems);
  return cfg;
}

let defaultsCache: PlatformConfig | undefined;
/** Every value a stack that sets nothing gets. */
function defaults(): PlatformConfig {
  return (defaultsCache ??= platformSchema.parse({}));
}

/**
 * A check that one key is at most another (minReplicas ≤ maxReplicas) names the key the stack wrote, with
 * its value, and says where the other one's value comes from: `scaling: {maxReplicas: 2}` is refused as
 * maxReplicas = 2, below minReplicas' default 3, never as a minReplicas the stack does not have.
 */
function orderProblem(raw: RawConfig, area: (string | number)[], [low, high]: [string, string], message: string) {
  const dotted = (k: string) => [...area, k].join(".");
  const lowValue = lookup(raw, [...area, low]);
  const highValue = lookup(raw, [...area, high]);
  const fallback = (k: string) => show(lookup(defaults(), [...area, k]));
  if (lowValue === undefined && highValue !== undefined) {
    const d = fallback(low);
    return {
      key: keyOf([...area, high]),
      value: show(highValue),
      expected:
        `expected ${dotted(high)} ≥ ${dotted(low)}, which is ${d} by default (this stack does not set it); ` +
        `set ${dotted(high)} to ${d} or more, or set ${dotted(low)} to ${show(highValue)} or less`,
    };
  }
  if (highValue === undefined && lowValue !== undefined) {
    const d = fallback(high);
    return {
      key: keyOf([...area, low]),
      value: show(lowValue),
      expected:
        `expected ${dotted(low)} ≤ ${dotted(high)}, which is ${d} by default (this stack does not set it); ` +
        `set ${dotted(low)} to ${d} or less, or set ${dotted(high)} to ${show(lowValue)} or more`,
    };
  }
  return {
    key: keyOf([...area, low]),
    value: show(lowValue ?? lookup(defaults(), [...area, low])),
    expected: `${message}; lower ${dotted(low)} or raise ${dotted(high)}`,
  };
}

/** For a duration written in words ("5 minutes"), the Go duration meant ("; for 5 minutes write 5m"). */
function durationHint(value: unknown): string {
  if (typeof value !== "string") return "";
  const m = /^\s*(\d+)\s*(h|hours?|hrs?|m|mins?|minutes?|s|secs?|seconds?)\s*$/i.exec(value);
  if (!m || /^\d+[hms]$/.test(value)) return "";
  return `; for ${value.trim()} write ${m[1]}${m[2][0].toLowerCase()}`;
}

/** One entry per key: several failed checks on one value read as one problem. */
function mergeByKey(problems: ConfigProblem[]): ConfigProblem[] {
  const byKey = new Map<string, ConfigProblem>();
  for (const p of problems) {
    const seen = byKey.get(p.key);
    if (!seen) byKey.set(p.key, { ...p });
    else if (!seen.expected.includes(p.expected)) seen.expected += `; ${p.expected}`;
  }
  return [...byKey.values()];
}

/** Checks that span several keys or touch the file system. */
function crossChecks(cfg: PlatformConfig, ctx: LoadContext): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const readable = (key: string, rel: string, what: string) => {
    const abs = path.resolve(ctx.projectRoot, rel);
    try {
      fs.accessSync(abs, fs.constants.R_OK);
      if (!fs.statSync(abs).isFile()) throw new Error("not a file");
    } catch {
      out.push({ key, value: show(rel), expected: `expected a readable ${what} file (looked at ${abs})` });
    }
  };
  if (cfg.features.keys) readable(`${CONFIG_NAMESPACE}:kms.inventory`, cfg.kms.inventory, "KMS inventory");
  if (cfg.features.loadtest) readable(`${CONFIG_NAMESPACE}:loadtest.script`, cfg.loadtest.script, "k6 script");
  if (cfg.features.repositoryHardening && !cfg.features.gitops) {
    out.push({
      key: `${CONFIG_NAMESPACE}:features.repositoryHardening`,
      value: "true",
      expected: "expected features.gitops to be true as well: the hardening protects the GitOps repository",
    });
  }
  if (cfg.features.repositoryHardening && !cfg.gitops.automation) {
    out.push({
      key: `${CONFIG_NAMESPACE}:gitops.automation`,
      value: "(missing)",
      expected:
        "expected the deploy identity, e.g. {actorType: Integration, actorId: <the GitHub App's id>}: the ruleset " +
        "must let it bypass the PR rule, since the provider commits .github/CODEOWNERS straight to the branch",
    });
  }
  if (
    cfg.features.gitops &&
    (cfg.gitops.flux.source === "upstream" || cfg.gitops.flux.source === "mirror") &&
    !cfg.gitops.flux.manifestSha256
  ) {
    out.push({
      key: `${CONFIG_NAMESPACE}:gitops.flux.manifestSha256`,
      value: "(missing)",
      expected:
        `expected the sha256 of Flux ${cfg.gitops.flux.version}'s install.yaml when flux.source is ` +
        `${cfg.gitops.flux.source} (sha256sum of the file you reviewed), or use source: embedded`,
    });
  }
  if (cfg.gitops.git.server === "local" && cfg.kubernetes.mode === "render") {
    out.push({
      key: `${CONFIG_NAMESPACE}:gitops.git.server`,
      value: "local",
      expected: "expected github in render mode: the local Git server belongs to the embedded cluster (mode: cluster)",
    });
  }
  if (cfg.gitops.flux.source === "mirror" && !cfg.gitops.flux.mirrorUrl) {
    out.push({
      key: `${CONFIG_NAMESPACE}:gitops.flux.mirrorUrl`,
      value: "(missing)",
      expected: "expected the URL of the mirrored install.yaml when flux.source is mirror",
    });
  }
  if (cfg.kubernetes.mode === "render" && cfg.kubernetes.context) {
    out.push({
      key: `${CONFIG_NAMESPACE}:kubernetes.context`,
      value: show(cfg.kubernetes.context),
      expected: "expected no context in render mode (rendering needs no cluster); remove it or set mode: cluster",
    });
  }
  if (cfg.kubernetes.mode === "render" && cfg.kubernetes.kubeconfig) {
    out.push({
      key: `${CONFIG_NAMESPACE}:kubernetes.kubeconfig`,
      value: show(cfg.kubernetes.kubeconfig),
      expected: "expected no kubeconfig in render mode (rendering needs no cluster); remove it or set mode: cluster",
    });
  }
  if (cfg.kubernetes.mode === "render" && path.isAbsolute(cfg.kubernetes.renderDirectory) === false) {
    const rel = path.normalize(cfg.kubernetes.renderDirectory);
    if (rel.startsWith("..")) {
      out.push({
        key: `${CONFIG_NAMESPACE}:kubernetes.renderDirectory`,
        value: show(cfg.kubernetes.renderDirectory),
        expected: "expected a folder inside the project (rendered output is gitignored there)",
      });
    }
  }
  if (cfg.gitops.knownTeams.length > 0) {
    for (const [role, slug] of Object.entries(cfg.gitops.teams)) {
      if (!cfg.gitops.knownTeams.includes(slug)) {
        out.push({
          key: `${CONFIG_NAMESPACE}:gitops.teams.${role}`,
          value: show(slug),
          expected: `expected one of the organisation's teams: ${cfg.gitops.knownTeams.join(", ")}`,
        });
      }
    }
  }
  if (cfg.features.loadtest && !cfg.loadtest.target) {
    out.push({
      key: `${CONFIG_NAMESPACE}:loadtest.target`,
      value: "(missing)",
      expected: "expected the base URL under test when features.loadtest is true",
    });
  }
  return out;
}

/**
 * Reads the engine's flat config map ("ns:key" -> string) into RawConfig.
 * Structured values arrive as JSON text; plain strings stay strings.
 */
export function rawFromEngineConfig(all: Record<string, string>): RawConfig {
  const raw: RawConfig = {};
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [k, v] of Object.entries(all)) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(prefix.length);
    try {
      raw[key] = JSON.parse(v);
    } catch {
      raw[key] = v;
    }
  }
  return raw;
}

/** Reads Pulumi.<stack>.yaml's config section into RawConfig (for tests and operator commands). */
export function rawFromStackFile(file: string): RawConfig {
  const doc = parseYaml(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const raw: RawConfig = {};
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [k, v] of Object.entries(doc?.config ?? {})) {
    if (k.startsWith(prefix)) raw[k.slice(prefix.length)] = v;
  }
  return raw;
}

/** Loads and validates one stack file of the project. */
export function loadStackFile(projectRoot: string, stack: string): PlatformConfig {
  const file = path.join(projectRoot, `Pulumi.${stack}.yaml`);
  return validateConfig(rawFromStackFile(file), { stack, projectRoot });
}
