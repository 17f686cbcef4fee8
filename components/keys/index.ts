/**
 * The KMS component: the key inventory kept in sync with the HSM.
 *
 * It validates the signing tokens (stopping preview when they are not ready),
 * ensures each active key version exists on its token, and publishes the public
 * inventory — no PIN, no private material — as a ConfigMap for the signing service.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LABELS, platformLabels } from "../platform/labels";
import { Inventory, keyLabel } from "./inventory";
import { HsmKey, HsmSlotValidation, ValidatedToken } from "./providers";

export interface KmsArgs {
  /** The validated key inventory (configs/kms/<stack>.yaml). */
  inventory: Inventory;
  /** Path of the vendor's PKCS#11 module. */
  modulePath: pulumi.Input<string>;
  /** Environment variable holding the user PIN (the PIN never enters state). */
  pinEnv: pulumi.Input<string>;
  /** Namespace of the signing service, where the public inventory is published. */
  namespace: pulumi.Input<string>;
}

export interface PublishedKey {
  id: string;
  version: number;
  label: string;
  purpose: string;
  algorithm: string;
  state: string;
  token: string;
  fingerprint?: string;
  /** SPKI PEM of an active key version: what verifies its signatures (evidence reports, npm run evidence:verify). */
  publicKey?: string;
}

export class Kms extends pulumi.ComponentResource {
  public readonly tokens: pulumi.Output<ValidatedToken[]>;
  public readonly keys: pulumi.Output<PublishedKey[]>;
  public readonly configMapName: pulumi.Output<string>;

  constructor(name: string, args: KmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:keys:Kms", name, {}, opts);
    const inv = args.inventory;
    const tokenByName = new Map(inv.tokens.map((t) => [t.name, t]));

    const validation = new HsmSlotValidation(
      `${name}-slots`,
      {
        modulePath: args.modulePath,
        pinEnv: args.pinEnv,
        tokens: inv.tokens,
        // A preview (a PR's, of untrusted code) gets no PIN and checks what needs no login;
        // a deployment must log in.
        loginRequired: !pulumi.runtime.isDryRun(),
      },
      { parent: this },
    );

    const published: pulumi.Output<PublishedKey>[] = inv.keys.map((k) => {
      const base: PublishedKey = {
        id: k.id,
        version: k.version,
        label: keyLabel(k),
        purpose: k.purpose,
        algorithm: k.algorithm === "EC" ? `EC ${k.curve}` : `RSA ${k.size}`,
        state: k.state,
        token: k.token,
      };
      if (k.state !== "active") return pulumi.output(base);
      const t = tokenByName.get(k.token)!;
      const key = new HsmKey(
        `${name}-${k.id}`,
        {
          modulePath: args.modulePath,
          pinEnv: args.pinEnv,
          token: { name: t.name, label: t.label, ...(t.serial ? { serial: t.serial } : {}) },
          key: {
            id: k.id,
            version: k.version,
            algorithm: k.algorithm,
            purpose: k.purpose,
            ...(k.curve ? { curve: k.curve } : {}),
            ...(k.size ? { size: k.size } : {}),
          },
          lifecycle: { cryptoperiodDays: k.cryptoperiodDays, activatedOn: k.activatedOn, state: k.state },
        },
        { parent: this, dependsOn: [validation] },
      );
      return key.record.apply((r) => ({ ...base, fingerprint: r.fingerprint, publicKey: r.publicKey }));
    });
    this.keys = pulumi.all(published);
    this.tokens = validation.validated;

    const cm = new k8s.core.v1.ConfigMap(
      `${name}-inventory`,
      {
        metadata: {
          name: "cartorio-kms-inventory",
          namespace: args.namespace,
          labels: platformLabels({ [LABELS.name]: "cartorio-kms" }),
        },
        data: {
          "inventory.json": pulumi.all([this.tokens, this.keys]).apply(([tokens, keys]) =>
            JSON.stringify(
              {
                tokens: tokens.map((t) => ({ name: t.name, label: t.label, serial: t.serial, slotId: t.slotId })),
                keys,
              },
              null,
              2,
            ),
          ),
        },
      },
      // cartorio-api mounts it as required: deleting it would break the service at its next restart.
      { parent: this, retainOnDelete: true },
    );
    this.configMapName = cm.metadata.name;
    this.registerOutputs({ tokens: this.tokens, keys: this.keys, configMapName: this.configMapName });
  }
}
