export { topologyPicture, chainLetter, type Picture, type PictureNode, type PictureEdge } from './picture.js';
export { toDot, CHAIN_COLOURS } from './dot.js';
export { toMermaid } from './mermaid.js';
export { dotToSvg } from './svg.js';
