// Corpus tests read real public Istio configuration from ../shared/cases/upstream. When that
// folder is absent they must show up as skipped in the runner's count, never as passed.

import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/** Compiled to dist/test/support/, four levels below the folder that holds the repository. */
export const UPSTREAM_DIR = fileURLToPath(
  new URL("../../../../shared/cases/upstream/", import.meta.url),
);

export const corpusMissing: string | undefined = existsSync(UPSTREAM_DIR)
  ? undefined
  : `${UPSTREAM_DIR} not found (the corpus lives in ../shared beside the repository)`;

/**
 * `describe` for a corpus suite. Without the corpus, a skipped suite would not count as a skipped
 * test, so one skipped test stands in for it.
 */
export function corpusDescribe(name: string, body: () => void): void {
  if (corpusMissing !== undefined) {
    it(name, { skip: corpusMissing }, () => undefined);
    return;
  }
  describe(name, body);
}
