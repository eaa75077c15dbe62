// Loaded by .mocharc.json for every test process: the second opt-in fault injection needs
// (docs/rollout.md, "Test-only fault injection"), inherited by the CLIs the e2e tests spawn with
// NATCHAIN_TEST_FAULT / --test-fault. Tests of the refusal itself pass `enabled` explicitly or
// clear the variable around the call.
process.env.NATCHAIN_TEST_FAULTS_ENABLE = '1';
