#!/usr/bin/env node
// Command-line entry: `scan`, `threats` and `explain`. Argument parsing is commander's; every
// command returns an exit code instead of calling process.exit deep inside.

import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { explain } from "./explain.js";
import { formatThreats } from "./threats.js";
import { runScan } from "./scan.js";
import { runOperator } from "./operator.js";

const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export const VERSION = pkg.version;

function program(setExit: (code: number) => void): Command {
  const cli = new Command("mesh-compliance")
    .description("Checks an Istio service mesh against a STRIDE threat model of 17 threats.")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError();

  cli
    .command("scan")
    .description("scan manifest files, folders (recursively) or standard input (-) offline")
    .argument("<paths...>", "files or folders with .yaml, .yml or .json manifests, or - for stdin")
    .option("-p, --policy <file>", "a ThreatPolicy to apply (default: the built-in default policy)")
    .addOption(
      new Option("-o, --output <format>", "output format")
        .choices(["table", "json", "yaml", "sarif", "junit"])
        .default("table"),
    )
    .addOption(
      new Option("--fail-on <severity>", "exit 1 when an open finding is at or above this")
        .choices(["critical", "high", "medium", "low", "none"])
        .default("high"),
    )
    .action(async (paths: string[], opts: { policy?: string; output: string; failOn: string }) => {
      setExit(await runScan(paths, opts, VERSION));
    });

  cli
    .command("threats")
    .description("list the threat catalogue with risk levels and checks")
    .addOption(new Option("-o, --output <format>").choices(["table", "json"]).default("table"))
    .action((opts: { output: string }) => {
      process.stdout.write(formatThreats(opts.output === "json"));
      setExit(0);
    });

  cli
    .command("explain")
    .description("explain a threat (e.g. E-02) or a check (e.g. authz-no-default-deny)")
    .argument("<id>", "threat id or check id")
    .action((id: string) => {
      const text = explain(id);
      if (text === undefined) {
        process.stderr.write(
          `mesh-compliance: "${id}" is neither a threat id nor a check id; see "mesh-compliance threats"\n`,
        );
        setExit(2);
        return;
      }
      process.stdout.write(text);
      setExit(0);
    });
  // The operator reads its own flags (and MESH_COMPLIANCE_* variables) through operator/config,
  // where every setting and default is declared once; commander passes them through untouched.
  cli
    .command("operator")
    .description(
      "run the in-cluster operator (in-cluster config or the current kubeconfig context)",
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_opts: unknown, command: Command) => {
      setExit(await runOperator(command.args, process.env));
    });
  return cli;
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    await program((c) => (code = c)).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successful exits; everything else commander rejects is usage.
      return err.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`mesh-compliance: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  return code;
}

// A reader that went away (`| head`) is not a failure; any other write error (a full disk) is.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  process.stderr.write(`mesh-compliance: cannot write the output: ${err.message}\n`);
  process.exit(2);
});

process.exitCode = await main(process.argv);
