import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Removes each file's temporary folders once it is done (test/setup/temp.ts).
    setupFiles: ["test/setup/temp.ts"],
    // Engine and HSM tests run real processes; their own timeouts are set per test.
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: "forks",
    // Two files at a time: most of an engine or cluster test's time is spent waiting (Flux's reconciles, the
    // API server, the engine's round trips), so two side by side fit two cores. Each file has its own
    // folders, ports, token and cluster; what they share (the ops bundles, the pack's bundle) is written
    // under a name of its own and renamed into place. Full run on 2 cores: docs/figures/ci.md.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
