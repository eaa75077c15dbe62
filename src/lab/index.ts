// natchain lab: a topology as Linux network namespaces, with a real sshd per gateway.
// The plan (what to build) is pure; everything else here is the edge that builds it.
export * from './types.js';
export { planLab, freeAddress, siteGateway, CONTROL_PORT } from './plan.js';
export { labUp, type LabUpOptions } from './up.js';
export { labDown, type LabDownOptions } from './down.js';
export { labStatus } from './status.js';
export { labExec, labProbe, labProbeMany, labNodes, parseEcho, type LabExecOptions, type ProbeOptions, type ProbeResult } from './exec.js';
export { openLab, listLabs, labNamespaces, unknownLab } from './state.js';
export { rootSnapshot, diffSnapshots, assertRootUnchanged, type RootSnapshot } from './safety.js';
export { preflight, LAB_PROGRAMS } from './preflight.js';
export { checkLabName, defaultLabName, labBaseDir, labDirOf, netnsName, NS_PREFIX } from './names.js';
export { ed25519KeyPair } from './keys.js';
export type { RunResult } from './sys.js';
export { labTraffic, clientFor, targetFor, sourcesAlong, portAt, type TrafficResult, type TrafficReport } from './traffic.js';
export { labEchoStart, labEchoStop, parseServiceSpec, type EchoSelection } from './echo.js';
