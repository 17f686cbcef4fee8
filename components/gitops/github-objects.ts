/**
 * What the program asks of GitHub, as data: the deploy key, the rulesets, CODEOWNERS, the producao
 * environment and the HSM runners' groups. No Pulumi import: RepositoryHardening sends each request
 * through @pulumi/github (gitops.github.api: github) or writes it as JSON for review (api: record, the
 * ensaio stack), and the tests read the same requests either way.
 *
 * Values GitHub knows by id (a team, the repository) are references, resolved by the sender:
 * `{ teamSlug }` and `{ repositoryName }`.
 */
import type { GitopsConfig } from "../config/schema";
import { codeowners, deployKeyTitle } from "./flux";

/** The branch of the GitOps repository that keeps producao's evidence chain, append-only. */
export const EVIDENCE_BRANCH = "evidencias";

/**
 * The office's self-hosted runners and who may use them. The deploy runner holds the HSM and producao's
 * credentials: only the deploy workflow as committed on main may run on it, so a pull request that edits a
 * workflow to name it is refused by GitHub (selected workflows pin the ref). The preview runner holds
 * read-only identities and no PIN; a PR's own pr.yml runs there, which is why it holds nothing more.
 */
export const RUNNER_GROUPS = {
  deploy: { name: "cartorio-hsm", label: "cartorio-hsm", workflow: "deploy.yml", ref: "refs/heads/main" },
  preview: { name: "cartorio-hsm-preview", label: "cartorio-hsm-preview", workflow: "pr.yml", ref: "*" },
} as const;

export interface TeamRef {
  teamSlug: string;
}
export interface RepositoryRef {
  repositoryName: string;
}

export type GithubType =
  | "RepositoryDeployKey"
  | "RepositoryRuleset"
  | "RepositoryFile"
  | "RepositoryEnvironment"
  | "ActionsRunnerGroup";

export interface GithubRequest<K = string> {
  /** The @pulumi/github resource type. */
  type: GithubType;
  /** Pulumi resource name (unique in the stack). */
  name: string;
  /**
   * Kept on GitHub when the stack is destroyed or the feature turned off: the environment holds producao's
   * secrets and reviewers, the deploy key is what the cluster's Flux authenticates with. Re-adopted on the
   * next up (github: by import; record: the file is rewritten).
   */
  retain: boolean;
  /** Resources this one must follow (names in the same list). */
  after: string[];
  args: Record<string, unknown> & { deployKey?: K };
}

/** Every request, in the order they are sent. `deployKey` is the Flux deploy key's authorized_keys line. */
export function githubRequests<K>(g: GitopsConfig, deployKey: K, name = "repository"): GithubRequest<K>[] {
  const repository = g.repository;
  const automation = g.automation
    ? [{ actorId: g.automation.actorId, actorType: g.automation.actorType, bypassMode: "always" }]
    : [];
  // Break glass: the named team may merge a PR whose required checks fail (a broken check, an expired
  // exception). Only through a pull request (bypassMode pull_request), so the PR, both enforcers' results
  // on it and the bypass itself stay on record (GitHub's rule insights; the deploy's evidence names it).
  const breakGlass = {
    actorId: { teamSlug: g.teams.breakGlass } as TeamRef,
    actorType: "Team",
    bypassMode: "pull_request",
  };
  const workflow = (w: { workflow: string; ref: string }) =>
    `${g.owner}/${repository}/.github/workflows/${w.workflow}@${w.ref}`;
  return [
    {
      type: "RepositoryDeployKey",
      name: `${name}-deploy-key`,
      retain: true,
      after: [],
      args: { repository, title: deployKeyTitle(g), key: deployKey, readOnly: true },
    },
    {
      type: "RepositoryRuleset",
      name: `${name}-ruleset`,
      retain: false,
      after: [],
      args: {
        repository,
        name: `protect-${g.branch}`,
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: [`refs/heads/${g.branch}`], excludes: [] } },
        // The deploy identity commits CODEOWNERS below; everyone else goes through a PR.
        bypassActors: [...automation, breakGlass],
        rules: {
          deletion: true,
          nonFastForward: true,
          requiredSignatures: g.requireSignedCommits,
          pullRequest: {
            requireCodeOwnerReview: true,
            requiredApprovingReviewCount: 1,
            dismissStaleReviewsOnPush: true,
            requireLastPushApproval: true,
          },
          requiredStatusChecks: {
            strictRequiredStatusChecksPolicy: true,
            requiredChecks: g.requiredChecks.map((context) => ({ context })),
          },
        },
      },
    },
    {
      // The evidence chain (docs/evidence.md): an append-only branch. Nobody may delete it, rewrite it or, but
      // the deploy identity that appends each deployment's report, push to it — no admin bypass.
      type: "RepositoryRuleset",
      name: `${name}-ruleset-evidencias`,
      retain: false,
      after: [],
      args: {
        repository,
        name: `append-only-${EVIDENCE_BRANCH}`,
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: [`refs/heads/${EVIDENCE_BRANCH}`], excludes: [] } },
        bypassActors: automation,
        rules: { creation: true, update: true, deletion: true, nonFastForward: true },
      },
    },
    {
      // Committed straight to the branch, after the ruleset exists: it lets the deploy identity bypass the PR rule.
      type: "RepositoryFile",
      name: `${name}-codeowners`,
      retain: false,
      after: [`${name}-ruleset`],
      args: {
        repository,
        branch: g.branch,
        file: ".github/CODEOWNERS",
        content: codeowners(g),
        commitMessage: "Update CODEOWNERS from cartorio-plataforma",
        overwriteOnCreate: true,
      },
    },
    {
      type: "RepositoryEnvironment",
      name: `${name}-environment-producao`,
      retain: true,
      after: [],
      args: {
        repository,
        environment: "producao",
        preventSelfReview: true,
        canAdminsBypass: false,
        reviewers: [{ teams: [{ teamSlug: g.teams.deployReviewers } as TeamRef] }],
        deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false },
      },
    },
    ...Object.entries(RUNNER_GROUPS).map(
      ([key, r]): GithubRequest<K> => ({
        type: "ActionsRunnerGroup",
        name: `${name}-runners-${key}`,
        retain: false,
        after: [],
        args: {
          name: r.name,
          visibility: "selected",
          selectedRepositoryIds: [{ repositoryName: repository } as RepositoryRef],
          allowsPublicRepositories: false,
          restrictedToWorkflows: true,
          selectedWorkflows: [workflow(r)],
        },
      }),
    ),
  ];
}

/** Replaces every reference in `value` with what `resolve` gives for it (ids, or Outputs of ids). */
export function resolveRefs(value: unknown, resolve: (ref: TeamRef | RepositoryRef) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, resolve));
  // Only plain data is walked: an Output (the deploy key) is passed through as it is.
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && (keys[0] === "teamSlug" || keys[0] === "repositoryName"))
      return resolve(o as unknown as TeamRef | RepositoryRef);
    return Object.fromEntries(keys.map((k) => [k, resolveRefs(o[k], resolve)]));
  }
  return value;
}
