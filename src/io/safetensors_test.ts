import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { readSafetensors, SafetensorsReader, writeSafetensors } from "./safetensors.ts";

/** A safetensors file from a header object and raw data bytes, for hand-made cases. */
function rawSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function expectLoadError(path: string, pattern: RegExp, tensor?: string): Promise<void> {
  await assert.rejects(
    async () => {
      using reader = await SafetensorsReader.open(path);
      if (tensor !== undefined) await reader.readFloat32(tensor);
    },
    (error: unknown) => {
      assert.ok(error instanceof UserError, String(error));
      assert.ok(error.message.startsWith(`Cannot load ${path}`), error.message);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

Deno.test("writeSafetensors() then readSafetensors() returns the same tensors and metadata", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/m.safetensors`;
    const tensors = new Map([
      ["a.weight", { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 4, 5, 6]) }],
      ["b", { shape: [], data: new Float32Array([4.6052]) }],
      ["é.bias", { shape: [1], data: new Float32Array([7]) }],
    ]);
    await writeSafetensors(path, tensors, { metadata: { format: "pt" } });
    const bytes = await Deno.readFile(path);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + headerLength) % 8, 0, "data starts 8-byte aligned");
    const back = await readSafetensors(path);
    assert.deepEqual([...back.keys()], [...tensors.keys()]);
    for (const [name, tensor] of tensors) {
      assert.deepEqual(back.get(name)!.shape, tensor.shape);
      assert.deepEqual([...back.get(name)!.data], [...tensor.data]);
    }
    using reader = await SafetensorsReader.open(path);
    assert.deepEqual(reader.metadata, { format: "pt" });
  });
});

Deno.test("readFloat32() converts F16 (incl. subnormal and inf) and BF16 exactly", async () => {
  await withTempDir(async (dir) => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555]);
    const bf16 = new Uint16Array([0x3f80, 0xc040, 0x4049]);
    const data = new Uint8Array(f16.byteLength + bf16.byteLength);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(bf16.buffer), f16.byteLength);
    const path = `${dir}/half.safetensors`;
    await Deno.writeFile(
      path,
      rawSafetensors({
        h: { dtype: "F16", shape: [6], data_offsets: [0, 12] },
        b: { dtype: "BF16", shape: [3], data_offsets: [12, 18] },
      }, data),
    );
    using reader = await SafetensorsReader.open(path);
    const h = await reader.readFloat32("h");
    assert.deepEqual([...h.data], [1, -2, 65504, 2 ** -24, Infinity, Math.fround(0.333251953125)]);
    const b = await reader.readFloat32("b");
    assert.deepEqual([...b.data], [1, -3, 3.140625]);
  });
});

Deno.test("SafetensorsReader errors name the file and tensor: missing, dtype, truncated, JSON", async () => {
  await withTempDir(async (dir) => {
    const good = `${dir}/good.safetensors`;
    await writeSafetensors(good, { w: { shape: [4], data: new Float32Array([1, 2, 3, 4]) } });
    await expectLoadError(good, /tensor "absent" is missing/, "absent");

    const notSafetensors = `${dir}/image.png`;
    await Deno.writeFile(
      notSafetensors,
      new TextEncoder().encode("\x89PNG\r\n\x1a\n and more bytes"),
    );
    await expectLoadError(notSafetensors, /not a safetensors file/);

    const tiny = `${dir}/tiny.safetensors`;
    await Deno.writeFile(tiny, new Uint8Array([1, 2, 3]));
    await expectLoadError(tiny, /not a safetensors file/);

    const bytes = await Deno.readFile(good);
    const truncated = `${dir}/truncated.safetensors`;
    await Deno.writeFile(truncated, bytes.subarray(0, bytes.byteLength - 4));
    await expectLoadError(
      truncated,
      /tensor "w": data ends at byte \d+ but the file has \d+ bytes/,
    );
    const headerCut = `${dir}/header-cut.safetensors`;
    await Deno.writeFile(headerCut, bytes.subarray(0, 20));
    await expectLoadError(headerCut, /truncated: the header needs/);

    const badJson = `${dir}/bad-json.safetensors`;
    const brokenHeader = rawSafetensors({ w: 1 }, new Uint8Array(0));
    brokenHeader[brokenHeader.byteLength - 1] = 0x2c; // "}" -> ","
    await Deno.writeFile(badJson, brokenHeader);
    await expectLoadError(badJson, /header is not valid JSON/);

    const unknown = `${dir}/unknown.safetensors`;
    await Deno.writeFile(
      unknown,
      rawSafetensors({ w: { dtype: "F12", shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2)),
    );
    await expectLoadError(unknown, /tensor "w" has unknown dtype "F12"/);

    const ints = `${dir}/ints.safetensors`;
    await Deno.writeFile(
      ints,
      rawSafetensors(
        { ids: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
        new Uint8Array(8),
      ),
    );
    await expectLoadError(
      ints,
      /tensor "ids" has dtype I64, expected one of F32, F16, BF16/,
      "ids",
    );

    const outOfRange = `${dir}/range.safetensors`;
    await Deno.writeFile(
      outOfRange,
      rawSafetensors({ w: { dtype: "F32", shape: [2], data_offsets: [4, 8] } }, new Uint8Array(8)),
    );
    await expectLoadError(outOfRange, /tensor "w": data_offsets \[4, 8\] span 4 bytes.*needs 8/);
  });
});
