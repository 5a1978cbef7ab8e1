// Prints one Markdown table per built-in service template (scope → routes), for docs/clients.md.
// Usage: node scripts/template-tables.mjs [name ...]   (reads src/templates/*.json; not part of the build)
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "templates");
const names = process.argv.length > 2 ? process.argv.slice(2) : ["stripe", "github", "slack", "openai"];
// Long shared prefixes are abbreviated so a table stays readable; each table says what the short form means.
const SHORT = { github: ["/repos/{owner}/{repo}", "R"] };

for (const name of names) {
  const t = JSON.parse(readFileSync(path.join(dir, `${name}.json`), "utf8"));
  const [long, short] = SHORT[name] ?? [];
  console.log(`#### \`${name}\` (upstream ${t.upstream}, auth ${t.auth.type})\n`);
  if (long) console.log(`\`${short}\` stands for \`${long}\`.\n`);
  console.log("| scope | routes |\n|---|---|");
  for (const [scope, routes] of Object.entries(t.scopes)) {
    const shown = routes.map((r) => `\`${long ? r.replace(` ${long}`, ` ${short}`) : r}\``).join(", ");
    console.log(`| \`${scope}\` | ${shown} |`);
  }
  console.log("");
}
