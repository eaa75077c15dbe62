// Discovery for `natchain init --discover`: read gateways (read-only), propose a topology.
export { readGateways } from './read.js';
export { infer, isPublic, type Proposal } from './infer.js';
export { proposalText } from './text.js';
export { DISCOVER_COMMAND, parseReport, parseIpRouteJson, type GatewayReport, type LiveRoute } from './report.js';
