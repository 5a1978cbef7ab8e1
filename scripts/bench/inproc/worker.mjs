import { b1, b2 } from "./b1-b2.mjs";
import { b7 } from "./b7.mjs";

/**
 * In-process workloads run in this child, pinned to the server CPU by the orchestrator.
 * Usage: worker.mjs <b1|b2|b7> '<json options>' → prints `RESULT <json>` on stdout.
 */
const [name, json] = process.argv.slice(2);
const fns = { b1, b2, b7 };
try {
  const result = await fns[name](JSON.parse(json));
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (e) {
  console.error(e);
  process.exit(1);
}
