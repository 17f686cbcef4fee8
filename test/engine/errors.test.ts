/**
 * What `pulumi preview` prints of a bad configuration and of an inventory token the HSM does not have:
 * one readable sentence, and nothing else of ours — no object dump, no Go map of a resource's inputs,
 * no follow-on error from a resource that was only cancelled. (test/unit/errors.test.ts covers the
 * sentences themselves.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { engineProject, EngineProject } from "../helpers/engine";

const ENGINE_TIMEOUT = 600_000;

let project: EngineProject;

/** Everything a failed preview printed: its progress and diagnostics (stdout) and the CLI's stderr. */
async function failedPreview(stackName: string, config: (cfg: Record<string, unknown>) => void): Promise<string> {
  const stack = await project.stack(stackName, config);
  const out: string[] = [];
  const err = await stack.preview({ onOutput: (s) => out.push(s) }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, "preview should have failed").toBeDefined();
  const stderr = (err as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? "";
  return `${out.join("")}\n${stderr}`;
}

/** The distinct texts after "error: " in the output (the engine repeats a diagnostic under Diagnostics). */
function errorsOf(text: string): string[] {
  return [...new Set([...text.matchAll(/error: (.*)$/gm)].map((m) => m[1].trim()))];
}

function expectOnlyOurSentence(text: string, sentence: RegExp) {
  const errors = errorsOf(text);
  expect(errors.length, text).toBeGreaterThan(0);
  expect(
    errors.filter((e) => !sentence.test(e)),
    text,
  ).toEqual([]);
  // One sentence, so one distinct error line.
  expect(errors, text).toHaveLength(1);
  expect(text).not.toMatch(/[{}]/);
  expect(text).not.toContain("map[");
  expect(text).not.toContain("grpc: the client connection is closing");
  expect(text).not.toMatch(/ConfigError|problems:|at .*\.ts:\d+/);
}

describe("errors a user can act on, through the engine", () => {
  beforeAll(async () => {
    project = await engineProject();
  }, ENGINE_TIMEOUT);

  it(
    "(1) scaling: {maxReplicas: 2} is one sentence naming maxReplicas = 2 and minReplicas' default 3",
    async () => {
      const text = await failedPreview("erros", (cfg) => {
        cfg["cartorio-plataforma:scaling"] = { maxReplicas: 2 };
      });
      expectOnlyOurSentence(
        text,
        /^stack erros: cartorio-plataforma:scaling\.maxReplicas = 2: expected scaling\.maxReplicas ≥ scaling\.minReplicas, which is 3 by default .*set scaling\.maxReplicas to 3 or more.*check with: pulumi preview --stack erros\)$/,
      );
    },
    ENGINE_TIMEOUT,
  );

  it(
    "(3) an inventory token label the HSM does not have is one sentence, before anything is registered",
    async () => {
      const inventory = fs
        .readFileSync(path.join(project.dir, "configs/kms/local.yaml"), "utf8")
        .replace("label: cartorio-local", "label: cartorio-ausente");
      fs.writeFileSync(path.join(project.dir, "configs/kms/erros.yaml"), inventory);
      const text = await failedPreview("errostoken", (cfg) => {
        cfg["cartorio-plataforma:kms"] = { inventory: "configs/kms/erros.yaml" };
      });
      expectOnlyOurSentence(
        text,
        /^stack errostoken: kms inventory configs\/kms\/erros\.yaml: tokens\[0\]\.label = cartorio-ausente \(token 'assinatura'\): no token labelled 'cartorio-ausente' on the HSM .*; present: 'cartorio-local' \(serial [0-9a-f]+\); .*\(check with: npm run hsm:slots -- --stack errostoken\); nothing was changed$/,
      );
      // Gitops is on in this stack: its resources were never started, so none was cancelled either.
      expect(text).not.toMatch(/flux-install|kms-slots/);
      expect(fs.existsSync(path.join(project.dir, "rendered/errostoken"))).toBe(false);
    },
    ENGINE_TIMEOUT,
  );
});
