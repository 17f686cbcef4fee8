// Where the pack's bundle lives and how its inputs are stamped (size and mtime): shared by index.js and build.js.
const fs = require("node:fs");
const path = require("node:path");

const dir = path.join(__dirname, ".build");

function stamp(file) {
  const s = fs.statSync(file);
  return `${s.size}:${s.mtimeMs}`;
}

module.exports = { dir, outfile: path.join(dir, "index.cjs"), record: path.join(dir, "inputs.json"), stamp };
