import assert from "node:assert/strict";
import { encodeMat, mat, matNumbers, matString, type MatValue, parseMat } from "./mat.ts";
import { UserError } from "../errors.ts";

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// scipy.io.savemat (scipy 1.10) of a Stanford-Cars-like struct array `annotations` (1 x 2; fields
// bbox_x1, class as uint8, fname as char), a cell row `class_names`, a double row
// `labels` = [77, 77, 1.5] and a uint16 row `trnid` = [1, 2, 300]; uncompressed, then compressed.
const SCIPY_UNCOMPRESSED =
  "TUFUTEFCIDUuMCAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg" +
  "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAAAAAAAAAAAAABSU0OAAAA0AEAAAYA" +
  "AAAIAAAAAgAAAAAAAAAFAAAACAAAAAEAAAACAAAAAQAAAAsAAABhbm5vdGF0aW9ucwAAAAAABQAEAAgAAAABAAAAGAAA" +
  "AGJib3hfeDEAY2xhc3MAAABmbmFtZQAAAA4AAAAwAAAABgAAAAgAAAAJAAAAAAAAAAUAAAAIAAAAAQAAAAEAAAABAAAA" +
  "AAAAAAIAAQAnAAAADgAAADAAAAAGAAAACAAAAAkAAAAAAAAABQAAAAgAAAABAAAAAQAAAAEAAAAAAAAAAgABAA4AAAAO" +
  "AAAAQAAAAAYAAAAIAAAABAAAAAAAAAAFAAAACAAAAAEAAAAJAAAAAQAAAAAAAAAQAAAACQAAADAwMDAxLmpwZwAAAAAA" +
  "AAAOAAAAMAAAAAYAAAAIAAAACQAAAAAAAAAFAAAACAAAAAEAAAABAAAAAQAAAAAAAAACAAEAJAAAAA4AAAAwAAAABgAA" +
  "AAgAAAAJAAAAAAAAAAUAAAAIAAAAAQAAAAEAAAABAAAAAAAAAAIAAQADAAAADgAAAEAAAAAGAAAACAAAAAQAAAAAAAAA" +
  "BQAAAAgAAAABAAAACQAAAAEAAAAAAAAAEAAAAAkAAAAwMDAwMi5qcGcAAAAAAAAADgAAAOAAAAAGAAAACAAAAAEAAAAA" +
  "AAAABQAAAAgAAAABAAAAAgAAAAEAAAALAAAAY2xhc3NfbmFtZXMAAAAAAA4AAABQAAAABgAAAAgAAAAEAAAAAAAAAAUA" +
  "AAAIAAAAAQAAABoAAAABAAAAAAAAABAAAAAaAAAAQU0gR2VuZXJhbCBIdW1tZXIgU1VWIDIwMDAAAAAAAAAOAAAASAAA" +
  "AAYAAAAIAAAABAAAAAAAAAAFAAAACAAAAAEAAAATAAAAAQAAAAAAAAAQAAAAEwAAAEFjdXJhIFJMIFNlZGFuIDIwMTIA" +
  "AAAAAA4AAABQAAAABgAAAAgAAAAGAAAAAAAAAAUAAAAIAAAAAQAAAAMAAAABAAAABgAAAGxhYmVscwAACQAAABgAAAAA" +
  "AAAAAEBTQAAAAAAAQFNAAAAAAAAA+D8OAAAAQAAAAAYAAAAIAAAACwAAAAAAAAAFAAAACAAAAAEAAAADAAAAAQAAAAUA" +
  "AAB0cm5pZAAAAAQAAAAGAAAAAQACACwBAAA=";
const SCIPY_COMPRESSED =
  "TUFUTEFCIDUuMCAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg" +
  "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAAAAAAAAAAAAABSU0PAAAAgwAAAHic" +
  "42NgYLjAyMDABqQ5gJiJAQJYoXxGqBiI5gbixLy8/JLEksz8vGKoOha4OgkgTkrKr4ivMGRIzkksBqlIy0vMTQXSfEBs" +
  "wICwhxOLPTDMALaTkUGdTH18UH0OSPpYsOjjRNInAOUbAIGhXlZBOlScHPtVyNTHTKG7jZDcDQBj4BSTDwAAAHQAAAB4" +
  "nONjYGB4AMRsQMwBxIwMEMCKxGeC0txAnJyTWFwcn5eYm1oMVscHxAFI+lmw6JdCMlcAynf0VXBPzUstSsxR8CjNzU0t" +
  "UggODVMwMjAwYICb60HAXGE0c0F8x+TSokSFIB+F4NSUxDyggYZGYHkANiAUpw8AAAA1AAAAeJzjY2BgCABiNiDmgNIg" +
  "wArlMwIxM5QGyeUkJqXmFDMwcALZElC1DA7BDig0ww97AKM8BfwPAAAAMQAAAHic42NgYHAAYjYg5gBibgYIYIXyGYGY" +
  "GUqDxEqK8jJTgDQLVA8jAxODDlASAE7eAto=";

function fieldOf(element: Map<string, MatValue> | undefined, field: string): MatValue | undefined {
  return element?.get(field);
}

for (
  const [label, text] of [["uncompressed", SCIPY_UNCOMPRESSED], ["compressed", SCIPY_COMPRESSED]]
) {
  Deno.test(`parseMat reads scipy's ${label} struct, cell, double and uint16 arrays`, () => {
    const variables = parseMat(fromBase64(text!), "cars.mat");
    assert.deepEqual([...variables.keys()], ["annotations", "class_names", "labels", "trnid"]);
    const annotations = variables.get("annotations");
    assert.equal(annotations?.kind, "struct");
    if (annotations?.kind !== "struct") return;
    assert.deepEqual(annotations.dims, [1, 2]);
    assert.deepEqual(annotations.fieldNames, ["bbox_x1", "class", "fname"]);
    const [first, second] = annotations.elements;
    assert.deepEqual(matNumbers(fieldOf(first, "class"), "class"), [14]);
    assert.deepEqual(matNumbers(fieldOf(second, "class"), "class"), [3]);
    assert.equal(matString(fieldOf(first, "fname"), "fname"), "00001.jpg");
    assert.equal(matString(fieldOf(second, "fname"), "fname"), "00002.jpg");
    const names = variables.get("class_names");
    assert.equal(names?.kind, "cell");
    if (names?.kind !== "cell") return;
    assert.deepEqual(
      names.cells.map((cell) => matString(cell, "name")),
      ["AM General Hummer SUV 2000", "Acura RL Sedan 2012"],
    );
    assert.deepEqual(matNumbers(variables.get("labels"), "labels"), [77, 77, 1.5]);
    assert.deepEqual(matNumbers(variables.get("trnid"), "trnid"), [1, 2, 300]);
  });
}

Deno.test("encodeMat output reads back the same values, compressed or not", () => {
  const annotations = mat.structRow(["class", "fname"], [
    new Map([["class", mat.scalar(7, "uint8")], ["fname", mat.string("00001.jpg")]]),
    new Map([["class", mat.scalar(196, "uint8")], ["fname", mat.string("00002.jpg")]]),
  ]);
  for (const compress of [false, true]) {
    const bytes = encodeMat({
      annotations,
      class_names: mat.cellRow([mat.string("A B 2012"), mat.string("C D 2009")]),
      labels: mat.row([1, 102, 55]),
    }, { compress });
    const variables = parseMat(bytes, "x.mat");
    assert.deepEqual(variables.get("annotations"), annotations);
    assert.deepEqual(matNumbers(variables.get("labels"), "labels"), [1, 102, 55]);
    const names = variables.get("class_names");
    assert.deepEqual(names?.kind === "cell" && names.cells.map((c) => matString(c, "n")), [
      "A B 2012",
      "C D 2009",
    ]);
  }
});

Deno.test("parseMat rejects a v7.3 (HDF5) file naming it", () => {
  const hdf5 = new Uint8Array(200);
  hdf5.set(new TextEncoder().encode("MATLAB 7.3 MAT-file"));
  assert.throws(
    () => parseMat(hdf5, "/d/flowers-102/setid.mat"),
    (error: unknown) =>
      error instanceof UserError &&
      error.message.startsWith(
        'Cannot read MAT-file /d/flowers-102/setid.mat: not a MATLAB v5 MAT-file (header starts "MATLAB 7.3"',
      ),
  );
});
