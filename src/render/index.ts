// Renderers: intents in, ruleset text out (one generator per backend, like Capirca/Aerleon).
// Pure: no I/O; the rollout loads the text and reads the state back with the helpers below.
import type { Gateway } from '../topology/types.js';
import type { Intent } from '../solve/types.js';
import { renderIptables } from './iptables.js';
import type { IptablesOptions } from './iptables.js';
import { renderNftables } from './nftables.js';
import type { NftablesOptions } from './nftables.js';

export { RenderError, forwardComment, forwardFromComment, COMMENT_PREFIX, MAX_COMMENT_LENGTH } from './common.js';
export {
  NATCHAIN_CHAINS,
  renderIptables,
  renderIptablesRestore,
  iptablesDesiredState,
  emptyIptablesState,
  parseIptablesSave,
  canonicalIptables,
  normaliseIptablesRule,
  iptablesForeign,
  jumpSpec,
  saveString,
  tokenizeIptablesRule,
} from './iptables.js';
export type { NatchainChain, IptablesState, IptablesOptions } from './iptables.js';
export { NFT_TABLE, renderNftables, renderNftablesRestore, canonicalNftables, nftablesForeign } from './nftables.js';
export type { NftablesOptions } from './nftables.js';

/** Options for `renderRuleset`; each backend reads the ones it knows. */
export type RenderOptions = IptablesOptions & NftablesOptions;

/** The ruleset text for one gateway in its backend's load format (iptables-restore --noflush, or nft -f). */
export function renderRuleset(gateway: Gateway, intents: readonly Intent[], opts: RenderOptions = {}): string {
  switch (gateway.backend) {
    case 'iptables':
      return renderIptables(gateway, intents, opts);
    case 'nftables':
      return renderNftables(gateway, intents, opts.acceptMark === undefined ? {} : { acceptMark: opts.acceptMark });
  }
}
