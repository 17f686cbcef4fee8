// Lint rules for the program, the pack, the scripts and the tests.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "bin/",
      "rendered/",
      ".local/",
      ".pulumi-state/",
      "test/fixtures/**/*.js",
      "policypack/.build/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        require: "readonly",
        module: "writable",
        __dirname: "readonly",
        __filename: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The pack's CommonJS loader and bundler (policypack/*.js), and the host's policy pack runner: plain Node,
    // require is how they load the bundle and the SDK.
    files: ["policypack/*.js", "scripts/toolchain/engine/cmd/pulumi-language-nodejs/*.js"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Operator commands, the embedded cluster and the CI helpers are plain logic: they start in a few hundred
    // milliseconds because they never load the Pulumi SDK (about a second by itself). Pulumi resources stay
    // in index.ts and components/*/ component files.
    files: ["scripts/ops/**", "scripts/cluster/**", "scripts/ci/**", "scripts/ensaio/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@pulumi/*"], message: "scripts/ops, cluster, ci and ensaio are plain logic: no Pulumi SDK" },
          ],
        },
      ],
    },
  },
  {
    // k6 scripts run in k6's JavaScript runtime, not Node.
    files: ["testes/**/*.js"],
    languageOptions: { globals: { __ENV: "readonly" } },
  },
);
