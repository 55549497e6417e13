/**
 * Type test (checked by `npm run typecheck`, never run): Electron's real
 * main-process types fit the structural ones the published types use, so
 * `db.serve(win, ...)` accepts a real BrowserWindow without the kit's types
 * ever importing `electron`.
 */
import type { BrowserWindow, IpcMainEvent, MessageChannelMain, WebContents } from "electron";
import type {
  BrowserWindowLike,
  ElectronMain,
  HonkerDatabase,
  IpcMainEventLike,
  MessageChannelMainLike,
  WebContentsLike,
} from "../../src/main/index.ts";

declare const win: BrowserWindow;
declare const contents: WebContents;
declare const event: IpcMainEvent;
declare const channel: MessageChannelMain;
declare const electron: typeof import("electron");
type Schema = {
  queues: { jobs: { n: number } };
  streams: { feed: { text: string } };
  channels: { pings: { at: number } };
};
declare const db: HonkerDatabase<Schema>;

export const asWindow: BrowserWindowLike = win;
export const asContents: WebContentsLike = contents;
export const asEvent: IpcMainEventLike = event;
export const asChannel: MessageChannelMainLike = channel;
export const asElectron: ElectronMain = electron;

db.serve(win, { queues: { jobs: { enqueue: true } } });
db.serve(contents, {}, { electron });
