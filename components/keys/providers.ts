/**
 * Dynamic providers over PKCS#11. Their methods call the plain HSM module and
 * read the PIN from the environment at call time: the PIN is never an input,
 * so it never reaches state, outputs or logs.
 */
import * as pulumi from "@pulumi/pulumi";
import { canonical } from "../platform/canonical";
import type { KeySpec } from "./inventory";
import { adoptionError, ensureKey, inspectKey, KeyRecord, pinFromEnv, readKey, TokenRef, validateTokens } from "./hsm";
import { moduleProblemLine, TokenContext, tokenProblemLines, TokenRequirement } from "./slots";

export interface SlotValidationInputs {
  modulePath: string;
  pinEnv: string;
  tokens: TokenRequirement[];
  /**
   * Whether a missing PIN fails validation: true when deploying, false in a preview, which may run
   * untrusted code and so gets no PIN. Not part of what the resource is (diff ignores it).
   */
  loginRequired?: boolean;
}

export interface ValidatedToken {
  name: string;
  label: string;
  slotId: string;
  serial: string;
  mechanisms: string[];
}

/**
 * The signing tokens judged on the HSM, as lines a user can act on (slots.ts, tokenProblemLines): the slot
 * provider's check and the program's pre-flight (index.ts) share it, so both say the same. `where` names
 * the inventory file and the stack when the caller knows them.
 */
export function slotProblems(
  inputs: SlotValidationInputs,
  where: Pick<TokenContext, "inventory" | "stack"> = {},
): { failures: string[]; tokens: ValidatedToken[] } {
  const ctx: TokenContext = { ...where, modulePath: inputs.modulePath, pinEnv: inputs.pinEnv, tokens: inputs.tokens };
  let verdicts;
  try {
    verdicts = validateTokens(inputs.modulePath, inputs.tokens, pinFromEnv(inputs.pinEnv), {
      loginRequired: inputs.loginRequired ?? true,
    });
  } catch (e) {
    return { failures: [moduleProblemLine(e as Error, ctx)], tokens: [] };
  }
  const failures = [...new Set(tokenProblemLines(verdicts, ctx))];
  const tokens = verdicts.map((v) => ({
    name: v.name,
    label: v.label,
    slotId: v.slotId ?? "",
    serial: v.serial ?? "",
    mechanisms: v.mechanisms,
  }));
  return { failures, tokens };
}

type SlotValidationState = SlotValidationInputs & { validated?: ValidatedToken[] };

/** What the resource is: its inputs and what check found on the HSM. */
const slotState = (x: SlotValidationState) =>
  canonical({ modulePath: x.modulePath, pinEnv: x.pinEnv, tokens: x.tokens, validated: x.validated });

export const slotValidationProvider: pulumi.dynamic.ResourceProvider = {
  // check runs on preview too, so an HSM that is not ready stops the deployment before anything changes.
  // It is the one place that talks to the HSM: what it finds travels as the `validated` input, so diff,
  // create and update log in to no token again.
  //
  // Failures name no property: the engine then prints "resource 'kms-slots' has a problem: <reason>",
  // where with a property it prints that property's whole value first, as a Go map dump. The program
  // runs the same validation before registering anything (index.ts), so this one fails only when the
  // HSM changed in between.
  async check(_olds: SlotValidationInputs, news: SlotValidationInputs) {
    const { failures, tokens } = slotProblems(news);
    return {
      inputs: { ...news, validated: tokens },
      failures: failures.map((reason) => ({ property: "", reason })),
    };
  },
  async diff(_id: string, olds: SlotValidationState, news: SlotValidationState) {
    return { changes: slotState(olds) !== slotState(news) };
  },
  async create(inputs: SlotValidationState) {
    return { id: "hsm-slots", outs: inputs };
  },
  async update(_id: string, _olds: SlotValidationState, news: SlotValidationState) {
    return { outs: news };
  },
};

export interface HsmSlotValidationArgs {
  modulePath: pulumi.Input<string>;
  pinEnv: pulumi.Input<string>;
  tokens: pulumi.Input<TokenRequirement[]>;
  /** A missing PIN fails validation (deployments); false lets a preview check without logging in. */
  loginRequired?: pulumi.Input<boolean>;
}

/** Stops preview when a signing token is missing, locked, short of mechanisms or refuses the PIN. */
export class HsmSlotValidation extends pulumi.dynamic.Resource {
  declare public readonly validated: pulumi.Output<ValidatedToken[]>;
  constructor(name: string, args: HsmSlotValidationArgs, opts?: pulumi.CustomResourceOptions) {
    super(slotValidationProvider, name, { ...args, validated: undefined }, opts, "cartorio", "HsmSlotValidation");
  }
}

export interface HsmKeyInputs {
  modulePath: string;
  pinEnv: string;
  token: TokenRef & { name?: string };
  key: Pick<KeySpec, "id" | "version" | "algorithm" | "curve" | "size" | "purpose">;
  /** Inventory metadata the policy pack checks (cryptoperiod); changing it never touches the HSM. */
  lifecycle?: Pick<KeySpec, "cryptoperiodDays" | "activatedOn" | "state">;
}

type HsmKeyState = HsmKeyInputs & { record: KeyRecord };

function requirePin(pinEnv: string): string {
  const pin = pinFromEnv(pinEnv);
  if (pin === undefined) throw new Error(`set the user PIN in the environment variable ${pinEnv} (kms.pinEnv)`);
  return pin;
}

export const hsmKeyProvider: pulumi.dynamic.ResourceProvider = {
  // On preview too: an object already under the key's label and id that this program would not have
  // made (extractable, not sensitive, another type or size, able to decrypt) stops the run, naming the
  // attribute, before anything changes. Only with the PIN: a preview without it cannot see private keys
  // (create, which always has the PIN, judges the same way).
  async check(_olds: HsmKeyInputs, news: HsmKeyInputs) {
    const pin = pinFromEnv(news.pinEnv);
    if (pin === undefined) return { inputs: news };
    try {
      const { problems, serial } = inspectKey(news.modulePath, news.token, news.key as KeySpec, pin);
      if (problems.length === 0) return { inputs: news };
      return {
        inputs: news,
        // No property: the engine would print the whole key input as a Go map dump before the reason.
        failures: [{ property: "", reason: adoptionError(news.token, serial, news.key, problems).message }],
      };
    } catch (e) {
      return { inputs: news, failures: [{ property: "", reason: (e as Error).message }] };
    }
  },
  async diff(_id: string, olds: HsmKeyState, news: HsmKeyInputs) {
    const replaces: string[] = [];
    if (canonical(olds.key) !== canonical(news.key)) replaces.push("key");
    // Which token holds the key is its label and serial; the inventory's token name is metadata.
    const tokenId = (t: TokenRef) => canonical({ label: t?.label, serial: t?.serial });
    if (tokenId(olds.token) !== tokenId(news.token)) replaces.push("token");
    const changes =
      replaces.length > 0 ||
      olds.modulePath !== news.modulePath ||
      olds.pinEnv !== news.pinEnv ||
      canonical(olds.token) !== canonical(news.token) ||
      canonical(olds.lifecycle) !== canonical(news.lifecycle) ||
      // A record from before the public key was published: the update reads it from the token.
      !olds.record?.publicKey;
    // A new version is created before the old resource goes; the old key stays in the HSM.
    return { changes, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: HsmKeyInputs) {
    const record = ensureKey(inputs.modulePath, inputs.token, inputs.key as KeySpec, requirePin(inputs.pinEnv));
    return { id: `${record.serial}/${record.label}`, outs: { ...inputs, record } };
  },
  async update(_id: string, olds: HsmKeyState, news: HsmKeyInputs) {
    if (olds.record?.publicKey) return { outs: { ...news, record: olds.record } };
    const record = readKey(news.modulePath, news.token, news.key as KeySpec, requirePin(news.pinEnv));
    return { outs: { ...news, record: record ?? olds.record } };
  },
  // pulumi refresh: a key that disappeared is reported gone (blank id), a replaced one shows its new
  // fingerprint, and one that is no longer what the inventory declares fails the refresh, naming why.
  async read(id: string, props: HsmKeyState) {
    const { record, problems, serial } = inspectKey(
      props.modulePath,
      props.token,
      props.key as KeySpec,
      requirePin(props.pinEnv),
    );
    if (!record) return { id: "", props: {} };
    if (problems.length > 0) throw adoptionError(props.token, serial, props.key, problems);
    return { id, props: { ...props, record } };
  },
  // Never destroys key material: the pair stays on the token, and the inventory marks it retired.
  async delete() {
    return;
  },
};

export interface HsmKeyArgs {
  modulePath: pulumi.Input<string>;
  pinEnv: pulumi.Input<string>;
  token: pulumi.Input<TokenRef & { name?: string }>;
  key: pulumi.Input<HsmKeyInputs["key"]>;
  lifecycle?: pulumi.Input<NonNullable<HsmKeyInputs["lifecycle"]>>;
}

/** One active key version as a sensitive, non-extractable key pair on its token. */
export class HsmKey extends pulumi.dynamic.Resource {
  declare public readonly record: pulumi.Output<KeyRecord>;
  constructor(name: string, args: HsmKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(hsmKeyProvider, name, { ...args, record: undefined }, opts, "cartorio", "HsmKey");
  }
}
