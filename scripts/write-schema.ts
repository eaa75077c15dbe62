/** Writes schema/topology.schema.json from the zod schema (run after changing src/topology/schema.ts). */
import { writeFileSync } from 'node:fs';
import { topologyJsonSchema } from '../src/topology/index.js';

writeFileSync(new URL('../schema/topology.schema.json', import.meta.url), JSON.stringify(topologyJsonSchema(), null, 2) + '\n');
