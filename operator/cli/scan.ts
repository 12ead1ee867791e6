// `mesh-compliance scan`: loads the policy and the manifests, evaluates, prints, and decides the
// exit code.

import { formatJson, formatYaml } from "../report/format/json.js";
import { formatJunit } from "../report/format/junit.js";
import { formatSarif } from "../report/format/sarif.js";
import { formatTable } from "../report/format/table.js";
import {
  exitCode,
  loadPolicy,
  scan,
  UsageError,
  type FailOn,
  type ScanResult,
} from "../scan/scan.js";

export interface ScanOptions {
  policy?: string;
  output: string;
  failOn: string;
}

function useColour(): boolean {
  return process.stdout.isTTY && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
}

function render(result: ScanResult, output: string, version: string): string {
  switch (output) {
    case "json":
      return formatJson(result);
    case "yaml":
      return formatYaml(result);
    case "sarif":
      return formatSarif(result, version);
    case "junit":
      return formatJunit(result);
    default:
      return formatTable(result, { color: useColour(), width: process.stdout.columns || 80 });
  }
}

export async function runScan(
  paths: string[],
  options: ScanOptions,
  version: string,
): Promise<number> {
  let result: ScanResult;
  try {
    const policy = options.policy === undefined ? undefined : await loadPolicy(options.policy);
    result = await scan(paths, policy);
  } catch (err) {
    if (err instanceof UsageError || isMissingPath(err)) {
      process.stderr.write(`mesh-compliance scan: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
  process.stdout.write(render(result, options.output, version));
  if (result.inputErrors.length > 0 && options.output !== "table") {
    // Machine formats carry the errors in the document; say so on stderr too, for CI logs.
    for (const e of result.inputErrors) process.stderr.write(`${e.file}:${e.line}: ${e.message}\n`);
  }
  return exitCode(result, options.failOn as FailOn);
}

function isMissingPath(err: unknown): boolean {
  return err instanceof Error && "code" in err && (err.code === "ENOENT" || err.code === "EACCES");
}
