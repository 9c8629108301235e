import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import {
  encodeNpy,
  type NpyArray,
  NpyRowReader,
  npyToFloat32,
  npyToInt32,
  parseNpy,
  readNpy,
  writeNpy,
} from "./npy.ts";

// Small files written by numpy 2.x (np.save / numpy.lib.format.write_array).
const FIXTURES = fileURLToPath(new URL("../../tests/fixtures/npy/", import.meta.url));

Deno.test("readNpy() reads numpy's float64, int64, uint8, scalar and v2-header files", async () => {
  const f8 = await readNpy(`${FIXTURES}f8_2x3.npy`);
  assert.equal(f8.dtype, "float64");
  assert.deepEqual(f8.shape, [2, 3]);
  assert.deepEqual([...f8.data], [0, 0.25, 0.5, 0.75, 1, 1.25]);

  const i8 = await readNpy(`${FIXTURES}i8_4.npy`);
  assert.equal(i8.dtype, "int64");
  assert.deepEqual([...i8.data], [-3n, 0n, 5n, 2n ** 40n]);

  const u1 = await readNpy(`${FIXTURES}u1_2x2.npy`);
  assert.equal(u1.dtype, "uint8");
  assert.deepEqual([...u1.data], [0, 255, 7, 128]);

  const scalar = await readNpy(`${FIXTURES}f4_scalar.npy`);
  assert.deepEqual(scalar.shape, []);
  assert.deepEqual([...scalar.data], [1.5]);

  const v2 = await readNpy(`${FIXTURES}f4_v2_3.npy`);
  assert.deepEqual(v2.shape, [3]);
  assert.deepEqual([...v2.data], [1, 2, 3]);
});

Deno.test("writeNpy() then readNpy() returns the same dtype, shape and values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const arrays: NpyArray[] = [
      { dtype: "float32", shape: [2, 2], data: new Float32Array([1.5, -2, 3.25, 0]) },
      { dtype: "float64", shape: [3], data: new Float64Array([1e-300, 2, 3]) },
      { dtype: "int32", shape: [1, 3], data: new Int32Array([-1, 0, 2147483647]) },
      { dtype: "int64", shape: [2], data: new BigInt64Array([-(2n ** 50n), 7n]) },
      { dtype: "uint8", shape: [0, 4], data: new Uint8Array(0) },
    ];
    for (const array of arrays) {
      const path = `${dir}/${array.dtype}.npy`;
      await writeNpy(path, array);
      const back = await readNpy(path);
      assert.equal(back.dtype, array.dtype);
      assert.deepEqual(back.shape, array.shape);
      assert.deepEqual([...back.data], [...array.data]);
    }
    // Only the results remain: no temp files left behind.
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(names, arrays.map((a) => `${a.dtype}.npy`).sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encodeNpy() pads the header so the data starts on a 64-byte boundary", () => {
  const [header] = encodeNpy({ dtype: "float32", shape: [5, 48], data: new Float32Array(240) });
  assert.equal(header.byteLength % 64, 0);
  assert.equal(header[header.byteLength - 1], 0x0a);
});

Deno.test("parseNpy() rejects bad magic, unsupported dtype, Fortran order and truncation", async () => {
  const expectError = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => parseNpy(bytes, "x.npy"), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /^Cannot read x\.npy: /);
      assert.match(error.message, pattern);
      return true;
    });
  expectError(new TextEncoder().encode("PK\x03\x04 not numpy at all"), /bad magic/);
  expectError(await Deno.readFile(`${FIXTURES}f2_3.npy`), /unsupported dtype '<f2'/);
  expectError(await Deno.readFile(`${FIXTURES}f4_fortran_2x3.npy`), /Fortran/);
  const whole = await Deno.readFile(`${FIXTURES}f8_2x3.npy`);
  expectError(whole.subarray(0, whole.byteLength - 8), /truncated.*needs 48 data bytes.*has 40/);
  expectError(whole.subarray(0, 40), /truncated \.npy header/);
});

Deno.test("readNpy() on a missing file is a UserError naming the path", async () => {
  await assert.rejects(readNpy("/nonexistent/a.npy"), (error: unknown) => {
    assert.ok(error instanceof UserError);
    assert.match(error.message, /Cannot read \/nonexistent\/a\.npy/);
    return true;
  });
});

Deno.test("npyToInt32() narrows int64 ids and refuses values beyond int32", () => {
  const ids = npyToInt32(
    { dtype: "int64", shape: [2], data: new BigInt64Array([498n, 499n]) },
    "t",
  );
  assert.deepEqual([...ids], [498, 499]);
  assert.throws(
    () => npyToInt32({ dtype: "int64", shape: [1], data: new BigInt64Array([2n ** 40n]) }, "t"),
    /does not fit int32/,
  );
  assert.throws(
    () => npyToInt32({ dtype: "float32", shape: [1], data: new Float32Array(1) }, "t"),
    /expected integer data/,
  );
  const f = npyToFloat32({ dtype: "float64", shape: [2], data: new Float64Array([0.5, 2]) }, "p");
  assert.deepEqual([...f], [0.5, 2]);
});

Deno.test("NpyRowReader reads any rows of a file, concurrent reads included, like readNpy's slices", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/images.npy`;
    const data = Uint8Array.from({ length: 7 * 2 * 2 * 3 }, (_, i) => (i * 37) % 256);
    await writeNpy(path, { dtype: "uint8", shape: [7, 2, 2, 3], data });
    using reader = await NpyRowReader.open(path);
    assert.equal(reader.rowBytes, 12);
    assert.deepEqual(reader.shape, [7, 2, 2, 3]);
    const [first, middle, last, none] = await Promise.all([
      reader.readRows(0, 2),
      reader.readRows(3, 5),
      reader.readRows(6, 7),
      reader.readRows(4, 4),
    ]);
    assert.deepEqual(first, data.subarray(0, 24));
    assert.deepEqual(middle, data.subarray(36, 60));
    assert.deepEqual(last, data.subarray(72));
    assert.equal(none.length, 0);
    assert.throws(() => reader.readRows(5, 8), /rows \[5, 8\) of 7/);
    // numpy's own v2 header and float32 rows.
    using v2 = await NpyRowReader.open(`${FIXTURES}f4_v2_3.npy`);
    assert.deepEqual([...new Float32Array((await v2.readRows(1, 3)).buffer)], [2, 3]);
    // A file cut short is refused when opened, naming it.
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(`${dir}/cut.npy`, bytes.subarray(0, bytes.length - 1));
    await assert.rejects(
      NpyRowReader.open(`${dir}/cut.npy`),
      /cut\.npy: truncated: shape \[7, 2, 2, 3\] uint8 needs 84 data bytes, the file has 83/,
    );
    await assert.rejects(NpyRowReader.open(`${dir}/none.npy`), UserError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
