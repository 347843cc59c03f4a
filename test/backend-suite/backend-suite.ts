/**
 * The backend conformance suite (DESIGN.md "Testing"): the same cases, with the same
 * multi-platform toolbox image, against the backend a test file names. Backend-specific cases
 * (namespaces, cgroups) live in their own test files.
 */
import { describe } from 'vitest';
import { capabilityChecks } from './capability-checks.ts';
import { containerBehaviours } from './container-behaviours.ts';
import { useSuiteEngine, type BackendUnderTest } from './suite-context.ts';

export function backendSuite(target: BackendUnderTest): void {
  describe(`backend conformance: ${target.backend}`, () => {
    const suite = useSuiteEngine(target);
    containerBehaviours(suite);
    capabilityChecks(suite);
  });
}
