// The public face of transport/: what rollout/, cli/ and lab/ may import.
export type { ConnectOptions, Connector, ExecOptions, ExecResult, GatewaySession } from './types.js';
export { connect, connectAll, closeAll, SshPool, resolveGatewayTarget, describeTarget, parseJumpSpec } from './connect.js';
export type { ConnectAllResult, SshTarget } from './connect.js';
export { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_KEEPALIVE_COUNT_MAX, DEFAULT_KEEPALIVE_INTERVAL_MS } from './connect.js';
export { shellQuote, shellJoin, sh, assertSafeName, assertSafeInterface, assertSafeAddress, assertSafeCidr, assertSafePort, assertSafeComment, assertSafePath } from './quote.js';
export { wrapCommand, sudoFailure, summarizeCommand } from './session.js';
export { parseSshConfig, resolveSshConfig, loadSshConfig, matchPattern, matchPatternList, expandPath, expandTokens } from './sshconfig.js';
export type { ParsedSshConfig, ResolvedSshConfig } from './sshconfig.js';
export { parseKnownHosts, checkHostKey, fingerprint, hashHostName, knownHostName, appendKnownHost } from './knownhosts.js';
export type { KnownHostEntry, HostKeyVerdict } from './knownhosts.js';
