// Entry point for integration tests: a real etcd + kube-apiserver and helpers around them.
export {
  ControlPlane,
  type ControlPlaneComponent,
  type ControlPlaneOptions,
  type FlagOverrides,
  type PolicyRule,
  type ServiceAccountTokenRequest,
} from "./controlplane.js";
export { useControlPlane, type ControlPlaneFixture } from "./node-test.js";
export { ResumableWatch, type ObservedEvent, type ListResult } from "./watch.js";
export {
  BUILD_SCRIPT,
  controlPlaneSkipReason,
  controlPlaneVersions,
  findControlPlaneBinaries,
} from "./paths.js";
export { httpCall, waitFor, sleep } from "./http.js";
