// The parts of a V8 `.cpuprofile` (node --cpu-prof) the profile benchmarks read.

/** One node of the call tree. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** A `.cpuprofile`: the call tree, and which node each sample was in and when. */
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}
