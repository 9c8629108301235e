/**
 * `${NAME}` reads a variable (`vars:` in the files, `--var NAME=value` on the command line, which
 * wins); `${env:NAME}` reads the environment. A string that is exactly one `${...}` takes the
 * variable's value with its type (a number stays a number, a list stays a list); inside a longer
 * string the value is written as text. `$${` stands for a literal `${`.
 */
import { didYouMean, type Origin, SpecError } from "./error.ts";
import { type MapNode, type ScalarNode, type SpecNode } from "./node.ts";

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WHOLE_REFERENCE = /^\$\{([^}]*)\}$/;

export interface Variables {
  /** Variables by name: `vars:` merged with `--var`. */
  values: Map<string, SpecNode>;
  /** Looks up `${env:NAME}`. */
  env: (name: string) => string | undefined;
}

/** Where `${...}` at `index` of the scalar's value was written (its start when unknown). */
function referenceOrigin(node: ScalarNode, token: string, occurrence: number): Origin {
  if (node.span === null) return node.origin;
  const raw = node.span.source.text.slice(node.span.start, node.span.end);
  let at = -1;
  for (let i = 0; i <= occurrence; i++) {
    at = raw.indexOf(token, at + 1);
    if (at === -1) return node.origin;
  }
  return node.span.source.origin(node.span.start + at);
}

/** Returns `node` with every `${...}` in its strings replaced. */
export function interpolate(node: SpecNode, variables: Variables): SpecNode {
  const resolved = new Map<string, SpecNode>();
  const resolving: string[] = [];

  const lookup = (reference: string, origin: Origin): SpecNode => {
    if (reference.startsWith("env:")) {
      const name = reference.slice(4);
      if (!VARIABLE_NAME.test(name)) {
        throw new SpecError(origin, `bad environment variable name in "\${${reference}}"`);
      }
      const value = variables.env(name);
      if (value === undefined) {
        throw new SpecError(origin, `environment variable "${name}" is not set`);
      }
      return { kind: "scalar", value, origin, span: null };
    }
    if (!VARIABLE_NAME.test(reference)) {
      throw new SpecError(
        origin,
        `bad variable reference "\${${reference}}": expected \${NAME} or \${env:NAME}`,
      );
    }
    const done = resolved.get(reference);
    if (done !== undefined) return done;
    const definition = variables.values.get(reference);
    if (definition === undefined) {
      const hint = didYouMean(reference, [...variables.values.keys()]);
      throw new SpecError(
        origin,
        `unknown variable "${reference}"${hint}: define it under vars: or pass --var ${reference}=...`,
      );
    }
    if (resolving.includes(reference)) {
      const cycle = [...resolving.slice(resolving.indexOf(reference)), reference].join(" -> ");
      throw new SpecError(origin, `variable cycle: ${cycle}`);
    }
    resolving.push(reference);
    const value = walk(definition);
    resolving.pop();
    resolved.set(reference, value);
    return value;
  };

  const replaceInString = (scalar: ScalarNode, text: string): SpecNode => {
    const whole = WHOLE_REFERENCE.exec(text);
    if (whole !== null) {
      const value = lookup(whole[1] ?? "", referenceOrigin(scalar, text, 0));
      // A scalar takes the place (and so the error location) of the reference that produced it.
      return value.kind === "scalar" ? { ...value, origin: scalar.origin, span: null } : value;
    }
    const seen = new Map<string, number>();
    const replaced = text.replace(REFERENCE, (token: string, reference: string | undefined) => {
      if (reference === undefined) return "${";
      const occurrence = seen.get(token) ?? 0;
      seen.set(token, occurrence + 1);
      const origin = referenceOrigin(scalar, token, occurrence);
      const value = lookup(reference, origin);
      if (value.kind !== "scalar") {
        throw new SpecError(
          origin,
          `variable "${reference}" is ${
            value.kind === "map" ? "a map" : "a list"
          }: it can only stand alone as a whole value, not inside a string`,
        );
      }
      return String(value.value);
    });
    return { ...scalar, value: replaced };
  };

  const walk = (current: SpecNode): SpecNode => {
    if (current.kind === "scalar") {
      return typeof current.value === "string" && current.value.includes("${")
        ? replaceInString(current, current.value)
        : current;
    }
    if (current.kind === "seq") return { ...current, items: current.items.map(walk) };
    const entries = new Map(
      [...current.entries].map(([key, entry]) => [key, { ...entry, value: walk(entry.value) }]),
    );
    return { ...current, entries } satisfies MapNode;
  };

  return walk(node);
}
