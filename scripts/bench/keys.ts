/**
 * Benchmark of the key area against SoftHSM2 (npm run bench:keys).
 *
 * - validation and sync time for inventories of 1, 10 and 100 keys (sync =
 *   create the missing keys; resync = adopt the existing ones);
 * - our slot listing against `softhsm2-util --show-slots`, as a ratio, both as
 *   an in-process call and as a command (`npm run hsm:slots` without npm).
 * Prints numbers and ratios and writes them to docs/figures/keys.md (command, date, cores); asserts nothing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureKey, ensureKeys, snapshotSlots, validateTokens } from "../../components/keys/hsm";
import type { KeySpec } from "../../components/keys/inventory";
import { FigureTable, writeFigures } from "./figures";

const MODULE = process.env.CARTORIO_BENCH_PKCS11_MODULE ?? "/usr/lib/softhsm/libsofthsm2.so";
const PIN = "bench-1234";
const root = path.resolve(__dirname, "../..");

function token(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-bench-"));
  fs.mkdirSync(path.join(dir, "tokens"));
  const conf = path.join(dir, "softhsm2.conf");
  fs.writeFileSync(conf, `directories.tokendir = ${dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = conf;
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", "so-1234", "--pin", PIN]);
  return conf;
}

function time<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const sizes: FigureTable = {
  title: "Inventories of 1, 10 and 100 keys (ms, one run each)",
  header: [
    "keys",
    "validate",
    "create",
    "create per key",
    "adopt, one login per key",
    "per key",
    "adopt, one login (kms:sync)",
    "per key",
  ],
  rows: [],
};
const req = [{ name: "bench", label: "bench", mechanisms: ["CKM_EC_KEY_PAIR_GEN", "CKM_ECDSA"] }];
console.log(
  "keys  validate(ms)  create(ms)  per-key  adopt, one login per key(ms)  per-key  adopt, one login (kms:sync)(ms)  per-key",
);
for (const n of [1, 10, 100]) {
  token("bench");
  const keys: KeySpec[] = Array.from({ length: n }, (_, i) => ({
    id: `chave-${i}`,
    purpose: "notarial-signing",
    algorithm: "EC",
    curve: "P-256",
    token: "bench",
    version: 1,
    cryptoperiodDays: 365,
    activatedOn: "2026-11-01",
    state: "active",
  }));
  const [, validate] = time(() => validateTokens(MODULE, req, PIN));
  const [, create] = time(() => keys.forEach((k) => ensureKey(MODULE, { label: "bench" }, k, PIN)));
  const [, adopt] = time(() => keys.forEach((k) => ensureKey(MODULE, { label: "bench" }, k, PIN)));
  const [, batch] = time(() => ensureKeys(MODULE, { label: "bench" }, keys, PIN));
  const cell = (total: number, w: number) => `${total.toFixed(1).padStart(w)}  ${(total / n).toFixed(2).padStart(7)}`;
  console.log(
    `${String(n).padStart(4)}  ${validate.toFixed(1).padStart(12)}  ${cell(create, 10)}  ${cell(adopt, 30)}  ${cell(batch, 33)}`,
  );
  sizes.rows.push(
    [n, validate, create, create / n, adopt, adopt / n, batch, batch / n].map((x, i) => (i === 0 ? x : x.toFixed(2))),
  );
}

// Slot listing: the same token folder for both, 20 runs each, medians.
token("bench");
for (let i = 0; i < 3; i++) token("outro-" + i);
const runs = 20;
const ours = median(Array.from({ length: runs }, () => time(() => snapshotSlots(MODULE))[1]));
const util = median(Array.from({ length: runs }, () => time(() => execFileSync("softhsm2-util", ["--show-slots"]))[1]));
const runner = path.join(root, "scripts/ops/run.mjs");
const cmd = median(
  // Exit status 1 is expected here: the local inventory's token is not in the bench folder.
  Array.from(
    { length: 5 },
    () => time(() => spawnSync(process.execPath, [runner, "hsm-slots", "--stack", "local"], { stdio: "pipe" }))[1],
  ),
);
console.log(`\nslot listing, 4 tokens, median of ${runs}:`);
console.log(`  softhsm2-util --show-slots (process)   ${util.toFixed(2)} ms`);
console.log(
  `  snapshotSlots (in-process)            ${ours.toFixed(2)} ms   ratio ours/softhsm2-util = ${(ours / util).toFixed(2)}`,
);
console.log(
  `  hsm:slots command (node process, n=5)  ${cmd.toFixed(2)} ms   ratio command/softhsm2-util = ${(cmd / util).toFixed(2)}`,
);

writeFigures(
  "keys",
  "bench:keys",
  "The key area against SoftHSM2 (`" +
    MODULE +
    "`): validating a token, creating and adopting inventories of 1, 10 and 100 EC P-256 keys, " +
    "and listing 4 tokens' slots in process, as a command and with `softhsm2-util --show-slots`.",
  [
    sizes,
    {
      title: `Slot listing, 4 tokens (ms, median of ${runs}; the command: median of 5)`,
      header: ["what", "ms", "ratio to softhsm2-util"],
      rows: [
        ["`softhsm2-util --show-slots` (a process)", util.toFixed(2), "1.00"],
        ["`snapshotSlots` (in process)", ours.toFixed(2), (ours / util).toFixed(2)],
        ["the `hsm:slots` command (a node process, no npm)", cmd.toFixed(2), (cmd / util).toFixed(2)],
      ],
    },
  ],
).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
