// Refuses to preview or deploy producao until its stack file declares how its secrets are encrypted: the AWS KMS
// secrets provider (`secretsprovider: awskms://…`) and the stack's data key encrypted by it (`encryptedkey:`).
// Without them Pulumi would make a new data key on the runner (or fall back to a passphrase) and every secret
// already in the state would be unreadable. Run in pr.yml (preview) and deploy.yml (up), before credentials.
//   node scripts/ci/check-stack-secrets.mjs [stack-file]   (default Pulumi.producao.yaml)
// The decision (backend, provider, who runs the one-time command) is in Pulumi.producao.yaml's header and
// docs/production.md, "State and secrets".
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { parse } from "yaml";

export const PROVIDER = "awskms://alias/cartorio-pulumi-producao?region=sa-east-1";
const FIX =
  `run once, by time-infraestrutura with the deploy role: ` +
  `pulumi stack change-secrets-provider --stack producao "${PROVIDER}" ` +
  `(pulumi stack init producao --secrets-provider "${PROVIDER}" if the stack does not exist in the backend yet), ` +
  `then commit the encryptedkey it writes by PR`;

/** Problems found in one stack file's text (empty when it passes); `file` names it in the messages. */
export function checkStackSecrets(file, text) {
  let doc;
  try {
    doc = parse(text) ?? {};
  } catch (e) {
    return [`${file} is not valid YAML (${e.message.split("\n")[0]})`];
  }
  if (typeof doc !== "object" || Array.isArray(doc)) return [`${file} is not a YAML mapping`];
  const problems = [];
  const provider = doc.secretsprovider;
  if (typeof provider !== "string" || !provider.startsWith("awskms://")) {
    problems.push(
      `${file} has no \`secretsprovider: awskms://…\`` +
        (provider === undefined ? "" : ` (it has ${JSON.stringify(provider)})`) +
        `: producao's secrets are encrypted by AWS KMS, add \`secretsprovider: ${PROVIDER}\`; then ${FIX}`,
    );
  }
  if (typeof doc.encryptedkey !== "string" || doc.encryptedkey.trim() === "") {
    problems.push(
      `${file} has no \`encryptedkey:\` (the stack's data key, encrypted by the KMS key): ` +
        `Pulumi would make a new one on this runner and could not read the secrets in the state; ${FIX}`,
    );
  }
  if (doc.encryptionsalt !== undefined) {
    problems.push(
      `${file} has \`encryptionsalt:\`, which belongs to the passphrase provider: producao uses ${PROVIDER}; ` +
        `remove it, then ${FIX}`,
    );
  }
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const file = process.argv[2] ?? "Pulumi.producao.yaml";
  const shown = path.relative(process.cwd(), path.resolve(file)) || file;
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    console.log(`::error title=Stack secrets provider::cannot read ${shown}: ${e.message}`);
    process.exit(1);
  }
  const problems = checkStackSecrets(shown, text);
  for (const p of problems) console.log(`::error file=${shown},title=Stack secrets provider::${p}`);
  if (problems.length) process.exit(1);
  console.log(`${shown}: secrets provider ${parse(text).secretsprovider} with its encryptedkey`);
}
