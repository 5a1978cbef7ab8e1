import { type Command, Option } from "commander";
import { clientFromEnv } from "../client.js";
import { UsageError } from "../errors.js";
import { type CliIo, printJson, println } from "../io.js";
import { table } from "../table.js";
import { parsePolicy } from "./key.js";

/** `agent-nonce trust put|list|rm`: OIDC trust relationships (docs/identity.md), through the generic request. */
interface TrustJson {
  name: string;
  issuer: string;
  audience: string;
  subject: string | null;
  claims: Record<string, string> | null;
  role: string;
}

function parseClaims(values: string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw new UsageError(`--claim must be name=glob, not ${JSON.stringify(v)}`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

const seg = (s: string) => encodeURIComponent(s);

export function registerTrust(program: Command, io: CliIo): void {
  const trust = program.command("trust").description("manage OIDC trust relationships (workload identity)");

  trust
    .command("put <name>")
    .description("create or replace a trust relationship: whose JWTs act with which role and policy")
    .requiredOption("--issuer <url>", "the token issuer (iss), e.g. https://token.actions.githubusercontent.com")
    .requiredOption("--audience <aud>", "the audience the tokens must carry")
    .option("--subject <glob>", "glob on sub, e.g. 'repo:acme/app:environment:prod'")
    .option("--claim <name=glob>", "glob on a claim (repeatable)", (v: string, acc: string[]) => [...acc, v], [])
    .addOption(
      new Option("--role <role>", "what its callers may do").choices(["issuer", "auditor"]).makeOptionMandatory(),
    )
    .option("--policy <json|@file>", "issuer policy (required for --role issuer)")
    .option("--jwks-uri <url>", "fetch the keys from here instead of discovery")
    .option("--insecure-issuer", "allow an http:// or loopback/private issuer (development only)")
    .option("--json", "print the API's JSON")
    .action(
      async (
        name: string,
        o: {
          issuer: string;
          audience: string;
          subject?: string;
          claim: string[];
          role: string;
          policy?: string;
          jwksUri?: string;
          insecureIssuer?: boolean;
          json?: boolean;
        },
      ) => {
        const body = {
          issuer: o.issuer,
          audience: o.audience,
          role: o.role,
          ...(o.subject !== undefined ? { subject: o.subject } : {}),
          ...(o.claim.length > 0 ? { claims: parseClaims(o.claim) } : {}),
          ...(o.policy !== undefined ? { policy: parsePolicy(o.policy) } : {}),
          ...(o.jwksUri !== undefined ? { jwks_uri: o.jwksUri } : {}),
          ...(o.insecureIssuer ? { insecure_issuer: true } : {}),
        };
        const t = await clientFromEnv(io).request<TrustJson>("PUT", `/v1/trust/${seg(name)}`, { body });
        if (o.json) return printJson(io.stdout, t);
        println(io.stdout, `trust ${t.name}: ${t.issuer} (aud ${t.audience}) as ${t.role}, actor oidc:${t.name}:<sub>`);
      },
    );

  trust
    .command("list")
    .description("list trust relationships")
    .option("--json", "print the API's JSON")
    .action(async (o: { json?: boolean }) => {
      const r = await clientFromEnv(io).request<{ trust: TrustJson[] }>("GET", "/v1/trust");
      if (o.json) return printJson(io.stdout, r);
      const rows = r.trust.map((t) => [
        t.name,
        t.issuer,
        t.audience,
        t.subject,
        t.claims
          ? Object.entries(t.claims)
              .map(([k, v]) => `${k}=${v}`)
              .join(",")
          : null,
        t.role,
      ]);
      println(io.stdout, table(["NAME", "ISSUER", "AUDIENCE", "SUBJECT", "CLAIMS", "ROLE"], rows));
    });

  trust
    .command("rm <name>")
    .description("delete a trust relationship; its tokens are refused from then on")
    .action(async (name: string) => {
      await clientFromEnv(io).request("DELETE", `/v1/trust/${seg(name)}`);
      println(io.stdout, `deleted trust ${name}`);
    });
}
