/**
 * Pulumi mocks for graph-shape tests: records every registered resource.
 * Closure serialization of dynamic providers does not survive vitest's module
 * transform, so it is replaced here; the engine tests serialize them for real.
 */
import * as pulumi from "@pulumi/pulumi";

export interface Registered {
  type: string;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: Record<string, any>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure");
closure.serializeFunction = async () => ({
  text: "/* provider serialized by the engine tests */",
  exportName: "handler",
  containsSecrets: false,
});

export interface MockOptions {
  /** Extra state a resource's mock returns (e.g. generated keys). */
  state?: (r: Registered) => Record<string, unknown> | undefined;
  /** Answers to invokes, by token. */
  calls?: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>>;
}

/** Installs mocks for `stack` (preview mode) and returns the list resources are recorded into. */
export async function recordResources(stack: string, opts: MockOptions = {}): Promise<Registered[]> {
  const registered: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const r = { type: args.type, name: args.name, inputs: args.inputs };
        registered.push(r);
        return { id: `${args.name}-id`, state: { ...args.inputs, ...(opts.state?.(r) ?? {}) } };
      },
      call: (args) => opts.calls?.[args.token]?.(args.inputs) ?? args.inputs,
    },
    "cartorio-plataforma",
    stack,
    true,
  );
  return registered;
}

/** Lets pending registrations settle. */
export const settle = () => new Promise((r) => setTimeout(r, 300));
