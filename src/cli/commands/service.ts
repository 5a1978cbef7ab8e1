import type { AuthType, Service, ServiceInput } from "@agent-nonce/sdk";
import { type Command, Option } from "commander";
import { clientFromEnv } from "../client.js";
import { type CliIo, printJson, println } from "../io.js";
import { scopeEntry } from "../options.js";
import { keyValues, table } from "../table.js";

function credentialCell(s: Service): string {
  return s.credential ? `set (${s.credential.fingerprint})` : "not set";
}

export function describeService(s: Service): string {
  const scopes = Object.entries(s.scopes).map(([name, routes]) => `${name} = ${routes.join(", ")}`);
  return keyValues([
    ["name", s.name],
    ["template", s.template],
    ["upstream", s.upstream + (s.insecureUpstream ? "  (insecure_upstream)" : "")],
    ["auth", s.auth.name ? `${s.auth.type} (${s.auth.name})` : s.auth.type],
    ["credential", credentialCell(s)],
    ["scopes", scopes.length ? scopes.join("\n            ") : "-"],
  ]);
}

export function registerService(program: Command, io: CliIo): void {
  const service = program.command("service").description("register and manage upstream services");

  service
    .command("put <name>")
    .description("create or update a service (from a template and/or explicit settings)")
    .option("--template <template>", "built-in template, e.g. stripe, github, slack, openai")
    .option("--upstream <url>", "upstream origin, e.g. https://api.stripe.com")
    .addOption(
      new Option("--auth-type <type>", "how the credential is injected").choices([
        "bearer",
        "basic",
        "header",
        "query",
      ]),
    )
    .option("--auth-name <name>", "header or query parameter name (auth types header, query)")
    .option("--scope <name=ROUTES>", "scope catalog entry, repeatable: 'read:x=GET /v1/x,GET /v1/x/{id}'", scopeEntry)
    .option("--insecure-upstream", "allow an http:// or loopback/private upstream (local services and tests only)")
    .option("--json", "print the API's JSON")
    .action(
      async (
        name: string,
        o: {
          template?: string;
          upstream?: string;
          authType?: AuthType;
          authName?: string;
          scope?: Array<[string, string[]]>;
          insecureUpstream?: boolean;
          json?: boolean;
        },
      ) => {
        const input: ServiceInput = {};
        if (o.template) input.template = o.template;
        if (o.upstream) input.upstream = o.upstream;
        if (o.authType) input.auth = o.authName ? { type: o.authType, name: o.authName } : { type: o.authType };
        if (o.scope) input.scopes = Object.fromEntries(o.scope);
        if (o.insecureUpstream) input.insecureUpstream = true;
        const an = clientFromEnv(io);
        if (o.json) {
          const body: Record<string, unknown> = { ...input };
          delete body.insecureUpstream;
          if (input.insecureUpstream) body.insecure_upstream = true;
          printJson(io.stdout, await an.request("PUT", `/v1/services/${encodeURIComponent(name)}`, { body }));
          return;
        }
        println(io.stdout, describeService(await an.services.put(name, input)));
      },
    );

  service
    .command("list")
    .description("list services (never their secrets)")
    .option("--json", "print the API's JSON")
    .action(async (o: { json?: boolean }) => {
      const an = clientFromEnv(io);
      if (o.json) return printJson(io.stdout, await an.request("GET", "/v1/services"));
      const rows = (await an.services.list()).map((s) => [
        s.name,
        s.template,
        s.upstream,
        s.auth.type,
        Object.keys(s.scopes).join(","),
        credentialCell(s),
      ]);
      println(io.stdout, table(["NAME", "TEMPLATE", "UPSTREAM", "AUTH", "SCOPES", "CREDENTIAL"], rows));
    });

  service
    .command("show <name>")
    .description("show one service")
    .option("--json", "print the API's JSON")
    .action(async (name: string, o: { json?: boolean }) => {
      const an = clientFromEnv(io);
      if (o.json) return printJson(io.stdout, await an.request("GET", `/v1/services/${encodeURIComponent(name)}`));
      println(io.stdout, describeService(await an.services.get(name)));
    });

  service
    .command("templates")
    .description("list the built-in templates and their scope catalogs")
    .option("--json", "print the API's JSON")
    .action(async (o: { json?: boolean }) => {
      const an = clientFromEnv(io);
      if (o.json) return printJson(io.stdout, await an.request("GET", "/v1/templates"));
      const rows = (await an.templates.list()).map((t) => [
        t.name,
        t.upstream,
        t.auth.type,
        Object.keys(t.scopes).join(","),
      ]);
      println(io.stdout, table(["NAME", "UPSTREAM", "AUTH", "SCOPES"], rows));
    });

  service
    .command("rm <name>")
    .description("delete a service")
    .action(async (name: string) => {
      await clientFromEnv(io).services.delete(name);
      println(io.stdout, `deleted service ${name}`);
    });
}
