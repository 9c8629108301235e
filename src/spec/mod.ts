/**
 * The pipeline spec language: YAML -> validated, fully resolved, typed Pipelines.
 * See docs/pipelines.md for the language reference.
 */
export { compileSpec, type Json, ORDERS_FILE, toCanonical } from "./compile.ts";
export { matrixPointName } from "./point.ts";
export { formatAt, type Origin, SpecError } from "./error.ts";
export * from "./types.ts";
