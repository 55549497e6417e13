// A consumer's page and preload (DOM types on, as a renderer has them).
import { exposeHonker } from "honker-electron/preload";
import { connect } from "honker-electron/renderer";

type AppSchema = {
  queues: { ship: { order: number } };
  streams: { activity: { order: number; status: string } };
  channels: { "orders-changed": { id: number } };
};

export async function page(): Promise<void> {
  const honker = await connect<AppSchema>();
  const id = await honker.queue("ship").enqueue({ order: 7 });
  console.log(id);
  for await (const e of honker.stream("activity").subscribe()) console.log(e.payload.status);
}
export { exposeHonker };
