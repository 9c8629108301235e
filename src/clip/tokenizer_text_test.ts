import assert from "node:assert/strict";
import { cleanText, unescapeHtml } from "./tokenizer_text.ts";

Deno.test("cleanText() unescapes HTML twice, collapses whitespace, straightens quotes", () => {
  assert.equal(cleanText("  multiple   spaces\tand\ttabs  "), "multiple spaces and tabs");
  assert.equal(cleanText("a&amp;amp;b &lt;tag&gt;"), "a&b <tag>");
  assert.equal(cleanText("\u201cQuoted\u201d it\u2019s"), '"quoted" it\'s');
  assert.equal(cleanText("\ufb01sh \uff21\uff22"), "fish ab"); // ligature, full-width letters
  assert.equal(cleanText("cafe\u0301"), "caf\u00e9"); // NFC
  assert.equal(cleanText("\x1b[31mred\x1b[0m\u0007"), "red");
});

Deno.test("unescapeHtml() follows Python's html.unescape on numeric and legacy references", () => {
  assert.equal(unescapeHtml("&#65;&#x42;&#128;&#0;&#1;"), "AB\u20ac\ufffd");
  assert.equal(unescapeHtml("&ampx &notit; &eacute &bogus;"), "&x \u00acit; \u00e9 &bogus;");
});
