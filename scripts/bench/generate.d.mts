/** Generates the scale topology: N sites each behind its own gateway on one backbone, F random forwards. */
export function generateTopology(sites: number, forwards: number, seed?: number): string;
