/**
 * The GitOps dynamic resources. The deploy key: generated once and kept (re-running
 * never rotates it, as with `flux bootstrap`); the private key is a Pulumi
 * secret output, encrypted in state and never printed.
 */
import * as pulumi from "@pulumi/pulumi";
import { DeployKeyAlgorithm, generateDeployKey } from "./keygen";
import * as local from "./local";
import { waitForSync } from "./sync";

export interface DeployKeyInputs {
  algorithm: DeployKeyAlgorithm;
  comment: string;
}

export const deployKeyProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: DeployKeyInputs) {
    const key = generateDeployKey(inputs.algorithm, inputs.comment);
    return { id: key.fingerprint, outs: { ...inputs, ...key } };
  },
  async diff(_id: string, olds: DeployKeyInputs, news: DeployKeyInputs) {
    // Only a new algorithm makes a new key; the comment is cosmetic.
    const replaces = olds.algorithm !== news.algorithm ? ["algorithm"] : [];
    return { changes: replaces.length > 0 || olds.comment !== news.comment, replaces };
  },
  async update(_id: string, olds: DeployKeyInputs, news: DeployKeyInputs) {
    return { outs: { ...olds, comment: news.comment } };
  },
};

export interface DeployKeyArgs {
  algorithm: pulumi.Input<DeployKeyAlgorithm>;
  comment: pulumi.Input<string>;
}

export class DeployKeyPair extends pulumi.dynamic.Resource {
  declare public readonly privateKey: pulumi.Output<string>;
  declare public readonly publicKey: pulumi.Output<string>;
  declare public readonly fingerprint: pulumi.Output<string>;
  constructor(name: string, args: DeployKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      deployKeyProvider,
      name,
      { ...args, privateKey: undefined, publicKey: undefined, fingerprint: undefined },
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
