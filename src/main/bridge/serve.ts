/**
 * `db.serve(window, grants)`: the bridge adds this method to HonkerDatabase
 * from here, above the host, so that database.ts never imports the bridge
 * (the host stays usable, and testable, without it). Importing
 * `honker-electron` (or `honker-electron/main`) loads this file.
 */
import { HonkerDatabase } from "../database.ts";
import type { HonkerSchema } from "../schema.ts";
import { type ElectronMain, type ServedWindow, serveWindow } from "./electron.ts";
import type { Grants, ServeOptions } from "./grants.ts";

declare module "../database.ts" {
  interface HonkerDatabase<S extends HonkerSchema> {
    /**
     * Lets a renderer window use exactly `grants` through the bridge (see
     * honker-electron/renderer). Electron is loaded lazily, or pass it as
     * `options.electron`.
     */
    serve(
      window: Parameters<typeof serveWindow>[1],
      grants: Grants<S>,
      options?: ServeOptions & { electron?: ElectronMain },
    ): ServedWindow;
  }
}

HonkerDatabase.prototype.serve = function serve<S extends HonkerSchema>(
  this: HonkerDatabase<S>,
  window: Parameters<typeof serveWindow>[1],
  grants: Grants<S>,
  options: ServeOptions & { electron?: ElectronMain } = {},
): ServedWindow {
  this.assertOpen("serve");
  return serveWindow(this, window, grants as Grants, options);
};
