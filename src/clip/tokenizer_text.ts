/**
 * CLIP's text cleaning, before any tokenizing: `basic_clean` + `whitespace_clean` of OpenAI's
 * `clip/simple_tokenizer.py`, then lower case. `ftfy.fix_text` is approximated by the steps that
 * change ordinary text: HTML unescape (when the text has no `<`), terminal escapes removed, Latin
 * ligatures and full-width characters replaced, curly quotes straightened, control characters
 * removed, NFC normalisation. Known gap: ftfy's mojibake repair (`fix_encoding`, e.g. `"cafÃ©"` ->
 * `"café"`) is not reproduced, so doubly-encoded UTF-8 tokenizes as written.
 */
import { decodeHTML } from "entities";

// Python's `html.unescape` pattern: numeric references, or up to 32 name characters.
const CHARACTER_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

// Python's html._invalid_charrefs: C1 code points read as windows-1252, and NUL / CR.
const INVALID_CHARREFS: Record<number, string> = {
  0x00: "\ufffd",
  0x0d: "\r",
  0x80: "\u20ac",
  0x81: "\x81",
  0x82: "\u201a",
  0x83: "\u0192",
  0x84: "\u201e",
  0x85: "\u2026",
  0x86: "\u2020",
  0x87: "\u2021",
  0x88: "\u02c6",
  0x89: "\u2030",
  0x8a: "\u0160",
  0x8b: "\u2039",
  0x8c: "\u0152",
  0x8d: "\x8d",
  0x8e: "\u017d",
  0x8f: "\x8f",
  0x90: "\x90",
  0x91: "\u2018",
  0x92: "\u2019",
  0x93: "\u201c",
  0x94: "\u201d",
  0x95: "\u2022",
  0x96: "\u2013",
  0x97: "\u2014",
  0x98: "\u02dc",
  0x99: "\u2122",
  0x9a: "\u0161",
  0x9b: "\u203a",
  0x9c: "\u0153",
  0x9d: "\x9d",
  0x9e: "\u017e",
  0x9f: "\u0178",
};

/** Python's html._invalid_codepoints: numeric references to these decode to nothing. */
function isInvalidCodePoint(cp: number): boolean {
  return (cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/** `html.unescape` from Python's standard library (HTML5 rules, longest named-reference prefix). */
export function unescapeHtml(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(CHARACTER_REFERENCE, (whole, reference: string) => {
    if (reference.startsWith("#")) {
      const hex = reference[1] === "x" || reference[1] === "X";
      const digits = reference.slice(hex ? 2 : 1).replace(/;$/, "");
      const cp = parseInt(digits, hex ? 16 : 10);
      const invalid = INVALID_CHARREFS[cp];
      if (invalid !== undefined) return invalid;
      if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return "\ufffd";
      if (isInvalidCodePoint(cp)) return "";
      return String.fromCodePoint(cp);
    }
    // Named references: the entities package implements the same HTML5 table and prefix rule.
    return decodeHTML(whole);
  });
}

// deno-lint-ignore no-control-regex -- ANSI escapes are what ftfy removes
const TERMINAL_ESCAPE = /\x1b\[[0-9;]*[a-zA-Z]/g;
const LIGATURES = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;
const FULL_WIDTH = /[\u3000\uff01-\uffef]/g;
const SINGLE_CURLY_QUOTE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_CURLY_QUOTE = /[\u201c-\u201f]/g;
// deno-lint-ignore no-control-regex -- ftfy.remove_control_chars, by design
const CONTROL_CHARACTERS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const WHITESPACE_RUN = /\p{White_Space}+/gu;

/** The parts of `ftfy.fix_text` (default settings) that apply to text that is not mojibake. */
function fixText(text: string): string {
  let fixed = text;
  if (!fixed.includes("<")) fixed = unescapeHtml(fixed); // ftfy's unescape_html="auto"
  return fixed
    .replace(TERMINAL_ESCAPE, "")
    .replace(LIGATURES, (c) => c.normalize("NFKC"))
    .replace(FULL_WIDTH, (c) => (c === "\u3000" ? " " : c.normalize("NFKC")))
    .replace(SINGLE_CURLY_QUOTE, "'")
    .replace(DOUBLE_CURLY_QUOTE, '"')
    .replace(CONTROL_CHARACTERS, "")
    .normalize("NFC");
}

/**
 * `whitespace_clean(basic_clean(text)).lower()`: the text exactly as CLIP's tokenizer splits it.
 */
export function cleanText(text: string): string {
  const basic = unescapeHtml(unescapeHtml(fixText(text)));
  return basic.replace(WHITESPACE_RUN, " ").trim().toLowerCase();
}
