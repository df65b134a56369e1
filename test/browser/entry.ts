/** The browser bundle's entry: checks the test vectors in the page and leaves the report where the test reads it. */
import { checkVectors, type VectorReport } from './vector-checks.ts';

(globalThis as { vectorReport?: VectorReport }).vectorReport = checkVectors();
