/**
 * JSON with sorted keys and no undefined members: state returns objects with
 * their keys reordered, so dynamic providers compare inputs through this.
 */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val) =>
    val && typeof val === "object" && !Array.isArray(val)
      ? Object.fromEntries(
          Object.entries(val as Record<string, unknown>)
            .filter(([k, x]) => x !== undefined && k !== "__provider")
            .sort(([a], [b]) => a.localeCompare(b)),
        )
      : val,
  );
}
