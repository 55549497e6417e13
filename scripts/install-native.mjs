#!/usr/bin/env node
// `npm install` hook: keep a matching prebuild when there is one, otherwise
// compile the extension from source (needs only a C compiler).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, libraryFileName } from "../native/build.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const prebuilt = join(root, "prebuilds", `${process.platform}-${process.arch}`, libraryFileName());

if (process.env.HONKER_EXTENSION_PATH) {
  console.log("honker-electron: HONKER_EXTENSION_PATH is set; not building the extension");
} else if (existsSync(prebuilt)) {
  console.log(`honker-electron: using prebuilt extension ${prebuilt}`);
} else {
  console.log(`honker-electron: no prebuild for ${process.platform}-${process.arch}; compiling`);
  console.log(`honker-electron: built ${build()}`);
}
