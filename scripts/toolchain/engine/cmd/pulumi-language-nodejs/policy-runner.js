// The policy pack runner this host starts for a pack whose PulumiPolicy.yaml says `typescript: false`.
// The SDK's own runner (@pulumi/pulumi/cmd/run-policy-pack) registers ts-node, and so loads the whole
// TypeScript compiler, for every pack under Node whatever the option says; that was half of a prebuilt
// pack's start, before the engine can run the program. This one calls the same run() of that folder, with
// TypeScript as the option says (PULUMI_NODEJS_TYPESCRIPT, as the SDK's program runner reads it), and keeps
// its contract: the same arguments, the pack's port as the first line of output, exit code 32 when the
// error was already shown to the user, 1 when an error went unseen.
//
//   node [nodeargs] policy-runner.js @pulumi/pulumi/cmd/run-policy-pack <engine address> <pack folder>
//
// The first argument is found from the pack's folder (the working directory), as the host would find it
// by asking Node, with the host's words when it can't be: one Node start fewer before the pack's port.
"use strict";
const path = require("node:path");

const [runModule, ...args] = process.argv.slice(2);
let runDir;
try {
  runDir = path.dirname(require.resolve(runModule, { paths: [process.cwd()] }));
} catch (err) {
  console.error(
    "It looks like the Pulumi SDK has not been installed. Have you run npm install or yarn install? " +
      `(${runModule} could not be resolved from ${process.cwd()}: ${err.message.split("\n")[0]})`,
  );
  process.exit(1);
}
const fromSdk = (m) => require(require.resolve(m, { paths: [runDir] }));

const SHOWN_TO_USER = 32;
const uncaught = new Set();
const shown = new Set();
let packRunning = false;

const onUncaught = (err) => {
  uncaught.add(err);
  // While the pack runs, run()'s own handlers report errors through the engine.
  if (!packRunning) console.error(err?.stack || err?.message || String(err));
};
process.on("uncaughtException", onUncaught);
process.on("unhandledRejection", onUncaught);
process.on("exit", (code) => {
  // Never a success with an error in flight: the engine would take a half-loaded pack for a good one.
  if (code === 0 && uncaught.size > 0) {
    process.exitCode = [...uncaught].every((e) => shown.has(e)) ? SHOWN_TO_USER : 1;
  }
});

const argv = fromSdk("minimist")(args, {});
if (argv._.length < 2) {
  console.error("usage: policy-runner.js <run-policy-pack module> <engine address> <pack folder>");
  process.exit(-1);
}
argv._.shift(); // the engine's address: the pack is reached through its own port

// The SDK's closure serialization reads V8's script events: its hooks must be up before the pack loads.
fromSdk(path.join(runDir, "../../runtime/closure/v8Hooks"))
  .isInitializedAsync()
  .then(() =>
    fromSdk(path.join(runDir, "run"))
      .run({
        argv,
        programStarted: () => (packRunning = true),
        reportLoggedError: (err) => shown.add(err),
        typeScript: process.env.PULUMI_NODEJS_TYPESCRIPT === "true",
      })
      .then(() => (packRunning = false)),
  );
