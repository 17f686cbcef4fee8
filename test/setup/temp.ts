// Each test file's temporary folders (test/helpers/tools.ts tempDir) are removed when the file is done.
// Registered before the file's own hooks, this afterAll runs after them (vitest runs after-hooks in reverse
// order), so clusters and processes a file stops in its afterAll are gone first.
import { afterAll } from "vitest";
import { removeTempDirs } from "../helpers/tools";

afterAll(() => removeTempDirs());
