import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { isHonkerError } from "../../src/main/errors.ts";
import { electronConnectivity } from "../../src/main/outbox/electron.ts";
import { httpTransport } from "../../src/main/outbox/transport.ts";
import { withCleanups } from "../helpers/host.ts";
import { startServer } from "./server.ts";

const { cleanups, tempDb } = withCleanups();

describe("electronConnectivity", () => {
  it("follows net.isOnline(), checks at once on resume, and drives an outbox", async () => {
    const srv = await startServer();
    cleanups.push(() => srv.close());
    let online = false;
    const net = { isOnline: () => online };
    const powerMonitor = new EventEmitter();
    const connectivity = electronConnectivity({ net, powerMonitor, pollMs: 3_600_000 });
    const { db } = tempDb();
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 50 }),
      connectivity,
    });
    sync.add({ key: null, seq: 1 });
    assert.equal(sync.status().online, false);
    assert.equal(powerMonitor.listenerCount("resume"), 1);
    online = true;
    powerMonitor.emit("resume"); // the poll is an hour away: resume alone must do it
    await srv.until(() => srv.applied.length === 1, 2000);
    await sync.stop();
    assert.equal(powerMonitor.listenerCount("resume"), 0, "stop() unsubscribed");
  });

  it("takes hints from pages: net decides, and a confirmed 'online' is heard at once", () => {
    let online = false;
    const connectivity = electronConnectivity({
      net: { isOnline: () => online },
      pollMs: 3_600_000,
    });
    connectivity.hint(true); // nobody listens: nothing to do
    const heard: boolean[] = [];
    const off = connectivity.subscribe((on) => heard.push(on));
    connectivity.hint(true); // net says offline: ignored
    assert.deepEqual(heard, []);
    online = true;
    connectivity.hint(false); // net says online: the change is heard, whatever the page said
    assert.deepEqual(heard, [true]);
    connectivity.hint(true); // no change, confirmed: heard again (at most once a second)
    connectivity.hint(true);
    assert.deepEqual(heard, [true, true]);
    online = false;
    connectivity.hint(false);
    assert.deepEqual(heard, [true, true, false]);
    off();
  });

  it("checks its arguments", () => {
    assert.throws(
      () => electronConnectivity({ net: {} as never }),
      (e: unknown) => isHonkerError(e, "HONKER_INVALID_ARGUMENT") && /options.net/.test(String(e)),
    );
    assert.throws(
      () => electronConnectivity({ net: { isOnline: () => true }, pollMs: 0 }),
      (e: unknown) => isHonkerError(e, "HONKER_INVALID_ARGUMENT"),
    );
    assert.throws(
      () => electronConnectivity({ net: { isOnline: () => true } }).hint("yes" as never),
      (e: unknown) => isHonkerError(e, "HONKER_INVALID_ARGUMENT") && /hint: online/.test(String(e)),
    );
  });
});
