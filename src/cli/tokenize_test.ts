import assert from "node:assert/strict";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { npyToInt32, readNpy } from "../io/npy.ts";
import { main as cliMain } from "./main.ts";

const FIXTURE = "fixtures/tokenizer/";

Deno.test(
  "`tokenize` writes OpenAI's ids for the 70 fixture strings as an int32 [70, 77] .npy",
  needsShared(FIXTURE),
  async () => {
    const dir = sharedPath(FIXTURE)!;
    const temp = await Deno.makeTempDir();
    try {
      const out = `${temp}/tokens.npy`;
      const code = await cliMain([
        "tokenize",
        "--model",
        dir,
        "--strings",
        `${dir}strings.json`,
        "--out",
        out,
        "--context-length",
        "77",
      ]);
      assert.equal(code, 0);
      const written = await readNpy(out);
      const expected = await readNpy(`${dir}tokens.npy`);
      assert.equal(written.dtype, "int32");
      assert.deepEqual(written.shape, [70, 77]);
      assert.deepEqual(
        Array.from(npyToInt32(written, out)),
        Array.from(npyToInt32(expected, "tokens.npy")),
      );
    } finally {
      await Deno.remove(temp, { recursive: true });
    }
  },
);

Deno.test("`tokenize` exits 2 on an unknown flag or a missing --out", async () => {
  const quiet = console.error;
  console.error = () => {};
  try {
    assert.equal(await cliMain(["tokenize", "--model", ".", "--bogus"]), 2);
    assert.equal(await cliMain(["tokenize", "--model", ".", "--strings", "x.json"]), 2);
  } finally {
    console.error = quiet;
  }
});

Deno.test("`tokenize` on a folder without a tokenizer exits 1 naming the folder", async () => {
  const temp = await Deno.makeTempDir();
  const messages: string[] = [];
  const quiet = console.error;
  console.error = (message: string) => messages.push(message);
  try {
    await Deno.writeTextFile(`${temp}/strings.json`, '["a cat"]');
    const code = await cliMain([
      "tokenize",
      "--model",
      temp,
      "--strings",
      `${temp}/strings.json`,
      "--out",
      `${temp}/out.npy`,
    ]);
    assert.equal(code, 1);
    assert.match(messages.join("\n"), new RegExp(`Cannot find a CLIP tokenizer in ${temp}`));
  } finally {
    console.error = quiet;
    await Deno.remove(temp, { recursive: true });
  }
});
