#!/usr/bin/env node
// Runs the compiled tests with Node's built-in runner. Node 20's `--test` takes no glob, so this
// script finds the files. Arguments pick suites by folder under test/ (unit, corpus, integration);
// none means all of them.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const testRoot = join(root, "dist", "test");
const suites = process.argv.slice(2);

function findTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return findTests(full);
    return name.endsWith(".test.js") ? [full] : [];
  });
}

const wanted = suites.length > 0 ? suites : readdirSync(testRoot);
const files = wanted.flatMap((suite) => findTests(join(testRoot, suite))).sort();
if (files.length === 0) {
  console.error(
    `no compiled tests under ${testRoot} for: ${wanted.join(", ")} (run npm run build)`,
  );
  process.exit(2);
}

// Integration tests share one control plane per file; run files one at a time so the two cores are
// not split between several API servers.
const result = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { stdio: "inherit", cwd: root },
);
process.exit(result.status ?? 1);
