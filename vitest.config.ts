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
    // Two cores: engine runs are heavy, so files run one at a time.
    fileParallelism: false,
  },
});
