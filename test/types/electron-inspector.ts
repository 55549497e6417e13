/**
 * Type test (checked by `npm run typecheck`, never run): Electron's real
 * BrowserWindow fits the structural types of openInspectorWindow, so an app
 * passes `BrowserWindow` from "electron" as it is, while the kit's own code
 * never imports `electron`.
 */
import type { BrowserWindow, BrowserWindowConstructorOptions } from "electron";
import {
  type InspectorWindowConstructorOptions,
  type InspectorWindowLike,
  type InspectorWindowOptions,
  openInspectorWindow,
} from "../../src/inspector/index.ts";
import type { AnyHonkerDatabase } from "../../src/main/database.ts";

declare const RealBrowserWindow: typeof BrowserWindow;
declare const win: BrowserWindow;
declare const db: AnyHonkerDatabase;

export const asWindow: InspectorWindowLike = win;
export const asClass: InspectorWindowOptions["BrowserWindow"] = RealBrowserWindow;
// What the helper passes is a valid BrowserWindow constructor options object.
export const passes = (o: InspectorWindowConstructorOptions): BrowserWindowConstructorOptions => o;
export const opened = openInspectorWindow(db, { BrowserWindow: RealBrowserWindow, readOnly: true });
