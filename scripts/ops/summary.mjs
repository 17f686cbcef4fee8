// Prints the local stack's outputs (JSON on stdin) as a short summary.
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const out = JSON.parse(input);
  const on = Object.entries(out.features ?? {})
    .filter(([, v]) => v)
    .map(([k]) => k);
  console.log(`stack ${out.stack} (${out.kubernetesMode}); features on: ${on.join(", ") || "none"}`);
  if (out.gitops)
    console.log(
      `Flux ${out.gitops.fluxVersion} syncs ${out.gitops.syncUrl}; deploy key ${out.gitops.deployKeyFingerprint}` +
        (out.gitops.syncedRevision ? `; Ready at ${out.gitops.syncedRevision}` : ""),
    );
  if (out.hpa)
    console.log(`HPA ${out.hpa.namespace}/${out.hpa.name}: ${out.hpa.minReplicas}..${out.hpa.maxReplicas} replicas`);
  if (out.capacity) {
    const c = out.capacity;
    console.log(
      `capacity: peak ${c.input.peakRps} rps needs ${c.neededAtPeak} replicas, baseline ${c.input.baselineRps} rps needs ${c.neededAtBaseline}; ` +
        (c.ok ? `OK (scale-up in ${c.secondsToScale} s)` : `NOT OK: ${c.reasons.join("; ")}`),
    );
  }
  for (const t of out.keys?.tokens ?? []) console.log(`HSM token ${t.label}: slot ${t.slotId}, serial ${t.serial}`);
  for (const k of out.keys?.keys ?? [])
    console.log(`key ${k.label} (${k.algorithm}, ${k.purpose}, ${k.state})${k.fingerprint ? ` ${k.fingerprint}` : ""}`);
});
