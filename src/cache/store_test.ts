import assert from "node:assert/strict";
import { defaultCacheRoot } from "./store.ts";

Deno.test("RANKONE_CACHE moves the cache: absolute as is, relative from the current folder", () => {
  const before = Deno.env.get("RANKONE_CACHE");
  try {
    Deno.env.set("RANKONE_CACHE", "/var/tmp/rankone");
    assert.equal(defaultCacheRoot(), "/var/tmp/rankone");
    Deno.env.set("RANKONE_CACHE", "cache-here");
    assert.equal(defaultCacheRoot(), `${Deno.cwd()}/cache-here`);
    Deno.env.delete("RANKONE_CACHE");
    assert.match(defaultCacheRoot(), /\/\.cache\/rankone$/);
  } finally {
    if (before === undefined) Deno.env.delete("RANKONE_CACHE");
    else Deno.env.set("RANKONE_CACHE", before);
  }
});
