/**
 * The deploy key as a dynamic resource: generated once and kept (re-running
 * never rotates it, as with `flux bootstrap`); the private key is a Pulumi
 * secret output, encrypted in state and never printed.
 */
import * as pulumi from "@pulumi/pulumi";
import { DeployKeyAlgorithm, generateDeployKey } from "./keygen";

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
