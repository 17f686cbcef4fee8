/**
 * The GitOps dynamic resources. The deploy key: generated once and kept (re-running
 * never rotates it, as with `flux bootstrap`); the private key is a Pulumi
 * secret output, encrypted in state and never printed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { apiReader } from "../platform/kubeapi";
import { DeployKeyAlgorithm, fingerprintOf, generateDeployKey } from "./keygen";
import * as local from "./local";
import { waitForSync } from "./sync";

export interface DeployKeyInputs {
  algorithm: DeployKeyAlgorithm;
  comment: string;
  /**
   * Where a key kept from an earlier deployment may be (the flux-system source Secret, kept on destroy): adopted
   * on create instead of making a key the Git host has never seen. Absent (render mode): always a new key.
   */
  adopt?: { kubeconfig: string; context: string; namespace: string; name: string };
}

/** The key in the kept source Secret, when there is one of the wanted algorithm. */
async function keptKey(inputs: DeployKeyInputs) {
  if (!inputs.adopt) return undefined;
  const a = inputs.adopt;
  const secret = await apiReader(a)<{ data?: Record<string, string> }>(
    `/api/v1/namespaces/${a.namespace}/secrets/${a.name}`,
  );
  if (typeof secret === "string" || !secret.data?.identity || !secret.data["identity.pub"]) return undefined;
  const text = (k: string) => Buffer.from(secret.data![k], "base64").toString("utf8");
  const publicKey = text("identity.pub").trim();
  const wanted = inputs.algorithm === "ed25519" ? "ssh-ed25519" : "ecdsa-sha2-nistp384";
  if (!publicKey.startsWith(`${wanted} `)) return undefined;
  return { privateKey: text("identity"), publicKey, fingerprint: fingerprintOf(publicKey), adopted: true };
}

export const deployKeyProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: DeployKeyInputs) {
    const key = (await keptKey(inputs)) ?? { ...generateDeployKey(inputs.algorithm, inputs.comment), adopted: false };
    return { id: key.fingerprint, outs: { ...inputs, ...key } };
  },
  async diff(_id: string, olds: DeployKeyInputs, news: DeployKeyInputs) {
    // Only a new algorithm makes a new key; the comment and where to adopt from are not the key.
    const replaces = olds.algorithm !== news.algorithm ? ["algorithm"] : [];
    return {
      changes:
        replaces.length > 0 ||
        olds.comment !== news.comment ||
        JSON.stringify(olds.adopt) !== JSON.stringify(news.adopt),
      replaces,
    };
  },
  async update(_id: string, olds: DeployKeyInputs, news: DeployKeyInputs) {
    return { outs: { ...olds, comment: news.comment, adopt: news.adopt } };
  },
};

export interface DeployKeyArgs {
  algorithm: pulumi.Input<DeployKeyAlgorithm>;
  comment: pulumi.Input<string>;
  /** The source Secret a kept key is adopted from (DeployKeyInputs.adopt). */
  adopt?: pulumi.Input<{ kubeconfig: string; context: string; namespace: string; name: string }>;
}

export class DeployKeyPair extends pulumi.dynamic.Resource {
  declare public readonly privateKey: pulumi.Output<string>;
  declare public readonly publicKey: pulumi.Output<string>;
  declare public readonly fingerprint: pulumi.Output<string>;
  /** Whether the key was adopted from the kept source Secret rather than made. */
  declare public readonly adopted: pulumi.Output<boolean>;
  constructor(name: string, args: DeployKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      deployKeyProvider,
      name,
      { ...args, privateKey: undefined, publicKey: undefined, fingerprint: undefined, adopted: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "cartorio",
      "DeployKeyPair",
    );
  }
}

// ---------------------------------------------------------------- the local Git server's deploy key

export interface LocalDeployKeyInputs {
  /** The local Git server's access file (absolute). */
  accessFile: string;
  /** authorized_keys line of the deploy key. */
  publicKey: string;
}

/**
 * The local analogue of a read-only GitHub deploy key: the key's line in the local Git
 * server's access file. `read` notices a key removed by hand, so refresh shows it.
 */
export const localDeployKeyProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: LocalDeployKeyInputs) {
    local.authorizeReadOnly(inputs.accessFile, inputs.publicKey);
    return { id: inputs.publicKey.split(/\s+/).slice(0, 2).join(" "), outs: { ...inputs, access: "read" } };
  },
  async read(id: string, props: LocalDeployKeyInputs) {
    const access = local.accessOf(props.accessFile, props.publicKey);
    return access ? { id, props: { ...props, access } } : { id: "", props: {} };
  },
  async diff(_id: string, olds: LocalDeployKeyInputs & { access?: string }, news: LocalDeployKeyInputs) {
    const replaces = ["accessFile", "publicKey"].filter(
      (k) => olds[k as keyof LocalDeployKeyInputs] !== news[k as keyof LocalDeployKeyInputs],
    );
    return { changes: replaces.length > 0 || olds.access !== "read", replaces, deleteBeforeReplace: false };
  },
  async update(_id: string, _olds: LocalDeployKeyInputs, news: LocalDeployKeyInputs) {
    local.authorizeReadOnly(news.accessFile, news.publicKey);
    return { outs: { ...news, access: "read" } };
  },
  async delete(_id: string, props: LocalDeployKeyInputs) {
    local.revoke(props.accessFile, props.publicKey);
  },
};

export interface LocalDeployKeyArgs {
  accessFile: pulumi.Input<string>;
  publicKey: pulumi.Input<string>;
}

export class LocalDeployKey extends pulumi.dynamic.Resource {
  declare public readonly access: pulumi.Output<string>;
  constructor(name: string, args: LocalDeployKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(localDeployKeyProvider, name, { ...args, access: undefined }, opts, "cartorio", "LocalDeployKey");
  }
}

// ---------------------------------------------------------------- waiting for the sync

export interface FluxSyncInputs {
  kubeconfig: string;
  context: string;
  namespace: string;
  name: string;
  /** The commit to reach, or "" for any once Ready. */
  revision: string;
  timeoutSeconds: number;
}

async function waitFor(inputs: FluxSyncInputs) {
  const s = await waitForSync({ ...inputs, revision: inputs.revision || undefined });
  return {
    ...inputs,
    sourceRevision: s.sourceRevision ?? "",
    appliedRevision: s.appliedRevision ?? "",
    waitedSeconds: Math.round(s.seconds),
  };
}

/**
 * Waits, on create and whenever the revision changes, until GitRepository and Kustomization
 * are Ready at it, as `flux bootstrap` does after pushing; fails with the controllers' own
 * conditions. Deleting it changes nothing in the cluster.
 */
export const fluxSyncProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: FluxSyncInputs) {
    const outs = await waitFor(inputs);
    return { id: `${inputs.namespace}/${inputs.name}`, outs };
  },
  async diff(_id: string, olds: FluxSyncInputs, news: FluxSyncInputs) {
    // Where and how long to wait are not the sync itself; a new revision is.
    const changes = olds.revision !== news.revision || olds.namespace !== news.namespace || olds.name !== news.name;
    return { changes };
  },
  async update(_id: string, _olds: FluxSyncInputs, news: FluxSyncInputs) {
    return { outs: await waitFor(news) };
  },
};

export interface FluxSyncArgs {
  kubeconfig: pulumi.Input<string>;
  context: pulumi.Input<string>;
  namespace: pulumi.Input<string>;
  name: pulumi.Input<string>;
  revision: pulumi.Input<string>;
  timeoutSeconds: pulumi.Input<number>;
}

export class FluxSync extends pulumi.dynamic.Resource {
  declare public readonly sourceRevision: pulumi.Output<string>;
  declare public readonly appliedRevision: pulumi.Output<string>;
  declare public readonly waitedSeconds: pulumi.Output<number>;
  constructor(name: string, args: FluxSyncArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      fluxSyncProvider,
      name,
      { ...args, sourceRevision: undefined, appliedRevision: undefined, waitedSeconds: undefined },
      opts,
      "cartorio",
      "FluxSync",
    );
  }
}

// ---------------------------------------------------------------- GitHub without GitHub

export interface GithubRecordInputs {
  /** Folder the requests are written to (absolute). */
  dir: string;
  /** The @pulumi/github type the request is for. */
  githubType: string;
  /** The resource's name in the stack (the file's name). */
  name: string;
  /** The request's inputs, as they would be sent. */
  request: Record<string, unknown>;
}

/**
 * gitops.github.api: record (the ensaio stack). Each GitHub resource becomes one JSON file of what would be
 * sent, for review and for the tests; nothing leaves the machine. Deleting removes the file, as GitHub would
 * delete the object; a resource kept on delete (retainOnDelete) keeps its file, as GitHub would keep it.
 */
export const githubRecordProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: GithubRecordInputs) {
    fs.mkdirSync(inputs.dir, { recursive: true });
    const file = path.join(inputs.dir, `${inputs.githubType}.${inputs.name}.json`);
    const body = { type: inputs.githubType, name: inputs.name, request: inputs.request };
    fs.writeFileSync(file, JSON.stringify(body, null, 2) + "\n");
    return { id: `${inputs.githubType}/${inputs.name}`, outs: inputs };
  },
  async diff(_id: string, olds: GithubRecordInputs, news: GithubRecordInputs) {
    return { changes: JSON.stringify(olds) !== JSON.stringify(news) };
  },
  async update(_id: string, _olds: GithubRecordInputs, news: GithubRecordInputs) {
    return { outs: (await githubRecordProvider.create!(news)).outs };
  },
  async delete(_id: string, props: GithubRecordInputs) {
    fs.rmSync(path.join(props.dir, `${props.githubType}.${props.name}.json`), { force: true });
  },
};

export class GithubRecord extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: { dir: string; githubType: string; request: pulumi.Input<Record<string, unknown>> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(githubRecordProvider, name, { ...args, name }, opts, "cartorio", "GithubRecord");
  }
}
