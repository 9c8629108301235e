import assert from "node:assert/strict";
import { describeError, isEnvironmentError, UserError } from "./errors.ts";

async function diskFull(): Promise<Error> {
  try {
    await Deno.writeFile("/dev/full", new Uint8Array(16));
  } catch (error) {
    return error as Error;
  }
  throw new Error("/dev/full accepted a write");
}

Deno.test("a full disk is an environment failure told in its own one line, exit 1", async () => {
  const error = await diskFull();
  assert.ok(isEnvironmentError(error));
  assert.deepEqual(describeError(error), {
    message: "No space left on device (os error 28): writefile '/dev/full'",
    exitCode: 1,
  });
});

Deno.test("a UserError keeps its message and exit code; anything else is an internal error pointing at --debug", () => {
  assert.deepEqual(describeError(new UserError("--until x: no job", { exitCode: 2 })), {
    message: "--until x: no job",
    exitCode: 2,
  });
  assert.deepEqual(describeError(new TypeError("x is undefined")), {
    message: "x is undefined (an internal error: --debug shows where)",
    exitCode: 1,
  });
  assert.equal(isEnvironmentError(new Deno.errors.NotFound("no such file")), false);
});
