// node:test glue: one control plane per describe block (in practice per test file), a fresh
// namespace per test, and the control plane's logs kept when any test in the block failed.
import { after, afterEach, before, beforeEach } from "node:test";
import { ControlPlane, type ControlPlaneOptions } from "./controlplane.js";
import { controlPlaneSkipReason } from "./paths.js";

export interface ControlPlaneFixture {
  /** Set when the tests must be skipped (no Go toolchain to build the binaries). */
  readonly skip: string | undefined;
  readonly cp: ControlPlane;
  /** A namespace created for the current test. */
  readonly namespace: string;
}

// node:test's TestContext has `passed` from Node 20.12 on; @types/node 20 does not declare it.
function testFailed(context: unknown): boolean {
  return (context as { passed?: boolean }).passed === false;
}

export function useControlPlane(options: ControlPlaneOptions = {}): ControlPlaneFixture {
  const skip = controlPlaneSkipReason();
  let controlPlane: ControlPlane | undefined;
  let namespace: string | undefined;
  let failed = false;

  before(async () => {
    if (skip !== undefined) return;
    controlPlane = await ControlPlane.start(options);
  });
  beforeEach(async () => {
    namespace = controlPlane === undefined ? undefined : await controlPlane.newNamespace();
  });
  afterEach((context) => {
    if (testFailed(context)) failed = true;
  });
  after(async () => {
    await controlPlane?.stop({ keepLogs: failed });
    controlPlane = undefined;
  });

  return {
    skip,
    get cp(): ControlPlane {
      if (controlPlane === undefined) throw new Error("the control plane is not running");
      return controlPlane;
    },
    get namespace(): string {
      if (namespace === undefined)
        throw new Error("no namespace: the control plane is not running");
      return namespace;
    },
  };
}
