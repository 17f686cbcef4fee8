/**
 * The program's entry to configuration: the engine's config, validated once.
 * Throws a RunError (no stack trace) listing every problem before any resource exists.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, rawFromEngineConfig, validateConfig } from "./load";
import { PlatformConfig } from "./schema";

export * from "./schema";
export { ConfigError } from "./load";

export function loadPlatformConfig(projectRoot: string = process.cwd()): PlatformConfig {
  try {
    return validateConfig(rawFromEngineConfig(pulumi.runtime.allConfig()), {
      stack: pulumi.getStack(),
      projectRoot,
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
