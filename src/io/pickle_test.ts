import assert from "node:assert/strict";
import {
  encodePickle,
  NdArray,
  parsePickle,
  PyBytes,
  pyText,
  PyTuple,
  uint8NdArray,
} from "./pickle.ts";
import { UserError } from "../errors.ts";

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// pickle.dumps({"data": np.arange(8, dtype=np.uint8).reshape(2, 4) * 30,
//   "fine_labels": [3, 99, 70000, -5], "fine_label_names": ["apple", "aquarium_fish"]},
//   protocol=p) from Python 3.11 / numpy 1.24.
const PYTHON_PROTOCOL_2 =
  "gAJ9cQAoWAQAAABkYXRhcQFjbnVtcHkuY29yZS5tdWx0aWFycmF5Cl9yZWNvbnN0cnVjdApxAmNudW1weQpuZGFycmF5CnED" +
  "SwCFcQRjX2NvZGVjcwplbmNvZGUKcQVYAQAAAGJxBlgGAAAAbGF0aW4xcQeGcQhScQmHcQpScQsoSwFLAksEhnEMY251bXB5" +
  "CmR0eXBlCnENWAIAAAB1MXEOiYiHcQ9ScRAoSwNYAQAAAHxxEU5OTkr/////Sv////9LAHRxEmKJaAVYCwAAAAAePFp4wpbC" +
  "tMOScRNoB4ZxFFJxFXRxFmJYCwAAAGZpbmVfbGFiZWxzcRddcRgoSwNLY0pwEQEASvv///9lWBAAAABmaW5lX2xhYmVsX25h" +
  "bWVzcRldcRooWAUAAABhcHBsZXEbWA0AAABhcXVhcml1bV9maXNocRxldS4=";
const PYTHON_PROTOCOL_4 =
  "gASV7AAAAAAAAAB9lCiMBGRhdGGUjBVudW1weS5jb3JlLm11bHRpYXJyYXmUjAxfcmVjb25zdHJ1Y3SUk5SMBW51bXB5lIwH" +
  "bmRhcnJheZSTlEsAhZRDAWKUh5RSlChLAUsCSwSGlGgFjAVkdHlwZZSTlIwCdTGUiYiHlFKUKEsDjAF8lE5OTkr/////Sv//" +
  "//9LAHSUYolDCAAePFp4lrTSlHSUYowLZmluZV9sYWJlbHOUXZQoSwNLY0pwEQEASvv///9ljBBmaW5lX2xhYmVsX25hbWVz" +
  "lF2UKIwFYXBwbGWUjA1hcXVhcml1bV9maXNolGV1Lg==";

for (const [protocol, text] of [[2, PYTHON_PROTOCOL_2], [4, PYTHON_PROTOCOL_4]] as const) {
  Deno.test(`parsePickle reads Python's protocol-${protocol} dict with a uint8 numpy array`, () => {
    const value = parsePickle(fromBase64(text), "p") as Map<string, unknown>;
    assert.deepEqual([...value.keys()], ["data", "fine_labels", "fine_label_names"]);
    const data = value.get("data") as NdArray;
    assert.ok(data instanceof NdArray);
    assert.equal(data.dtype.replace(/^\|/, ""), "u1");
    assert.deepEqual(data.shape, [2, 4]);
    assert.deepEqual([...data.data], [0, 30, 60, 90, 120, 150, 180, 210]);
    assert.deepEqual(value.get("fine_labels"), [3, 99, 70000, -5]);
    assert.deepEqual(value.get("fine_label_names"), ["apple", "aquarium_fish"]);
  });
}

Deno.test("encodePickle round-trips a CIFAR-style dict with Python 2 strs as keys", () => {
  const str = (s: string) => new PyBytes(new TextEncoder().encode(s));
  const pixels = Uint8Array.from({ length: 2 * 3072 }, (_, i) => i % 251);
  const encoded = encodePickle(
    new Map<unknown, unknown>([
      [str("filenames"), [str("a.png"), str("b.png")]],
      [str("fine_labels"), [3, 99, 70000, -5, 2 ** 31 - 1]],
      [str("data"), uint8NdArray(pixels, [2, 3072])],
      [str("shape"), new PyTuple([1, null, true])],
    ]),
  );
  const value = parsePickle(encoded, "p") as Map<string, unknown>;
  assert.deepEqual([...value.keys()], ["filenames", "fine_labels", "data", "shape"]);
  assert.deepEqual((value.get("filenames") as unknown[]).map(pyText), ["a.png", "b.png"]);
  assert.deepEqual(value.get("fine_labels"), [3, 99, 70000, -5, 2 ** 31 - 1]);
  const data = value.get("data") as NdArray;
  assert.deepEqual(data.shape, [2, 3072]);
  assert.equal(data.data[3072 + 5], 3077 % 251);
  assert.deepEqual((value.get("shape") as PyTuple).items, [1, null, true]);
});

Deno.test("parsePickle names the file and byte of an unsupported or truncated stream", () => {
  assert.throws(
    () => parsePickle(new Uint8Array([0x80, 2, 0x5d]), "/d/cifar-100-python/train"),
    (error: unknown) =>
      error instanceof UserError &&
      error.message === "Cannot read pickle /d/cifar-100-python/train: unexpected end of data " +
          "(at byte 3)",
  );
  assert.throws(() => parsePickle(new Uint8Array([0x80, 2, 0xff]), "f"), /unsupported opcode 0xff/);
});
