import { describe, expect, it } from "vitest";
import type { ServiceRecord } from "../core/types.js";
import { permissionsFor } from "../gateway/minted/github-app.js";
import { getTemplate } from "../templates/index.js";
import { resolveCredentialParams } from "./credential-params.js";
import { dynamicCredentialPlaintext } from "./dynamic-auth.js";
import { validateAuth } from "./services.js";

const bad = expect.objectContaining({ code: "invalid_request" });

describe("dynamic auth kinds: service fields", () => {
  it("github_app needs numeric app_id and installation_id and nothing else", () => {
    expect(validateAuth({ type: "github_app", app_id: "12", installation_id: "34" })).toEqual({
      type: "github_app",
      app_id: "12",
      installation_id: "34",
    });
    expect(() => validateAuth({ type: "github_app", app_id: "12" })).toThrow(bad);
    expect(() => validateAuth({ type: "github_app", app_id: "1 2", installation_id: "3" })).toThrow(bad);
    expect(() => validateAuth({ type: "github_app", app_id: "1", installation_id: "3", name: "x" })).toThrow(bad);
    expect(() => validateAuth({ type: "bearer", app_id: "1" })).toThrow(bad);
  });

  it("oauth2 needs a grant, a client id and an https, public token_url unless the service is insecure", () => {
    const ok = {
      type: "oauth2",
      grant: "client_credentials",
      client_id: "c",
      token_url: "https://auth.example.com/token",
    } as const;
    expect(validateAuth(ok)).toEqual(ok);
    expect(() => validateAuth({ ...ok, grant: undefined })).toThrow(bad);
    expect(() => validateAuth({ ...ok, token_url: "http://auth.example.com/token" })).toThrow(/insecure_upstream/);
    expect(() => validateAuth({ ...ok, token_url: "https://10.0.0.1/token" })).toThrow(/insecure_upstream/);
    expect(validateAuth({ ...ok, token_url: "http://127.0.0.1:9/token" }, true).token_url).toBe(
      "http://127.0.0.1:9/token",
    );
    expect(() => validateAuth({ ...ok, token_url: "https://u:p@auth.example.com/token" })).toThrow(bad);
    expect(() => validateAuth({ ...ok, app_id: "1" })).toThrow(bad);
  });
});

describe("dynamic auth kinds: write-only credentials", () => {
  it("github_app takes a PEM private key only; oauth2 a client secret and an optional refresh token", () => {
    expect(() => dynamicCredentialPlaintext("github_app", { secret: "x" })).toThrow(bad);
    expect(() => dynamicCredentialPlaintext("github_app", { private_key: "not a pem" })).toThrow(bad);
    const pem = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    expect(JSON.parse(dynamicCredentialPlaintext("github_app", { private_key: pem }).toString())).toEqual({
      private_key: pem,
    });
    expect(() => dynamicCredentialPlaintext("oauth2", { refresh_token: "r" })).toThrow(bad);
    expect(() => dynamicCredentialPlaintext("oauth2", { client_secret: "a\r\nb" })).toThrow(bad);
    expect(
      JSON.parse(dynamicCredentialPlaintext("oauth2", { client_secret: "s", refresh_token: "r" }).toString()),
    ).toEqual({
      client_secret: "s",
      refresh_token: "r",
    });
  });
});

describe("github_app nonces", () => {
  const svc = (type: string) => ({ name: "github", auth: { type } }) as unknown as ServiceRecord;

  it("repositories are required for github_app, refused elsewhere, one owner, deduplicated case-insensitively", () => {
    expect(() => resolveCredentialParams(svc("github_app"), {})).toThrow(/repositories/);
    expect(() => resolveCredentialParams(svc("bearer"), { github: { repositories: ["o/r"] } })).toThrow(bad);
    expect(() => resolveCredentialParams(svc("github_app"), { github: { repositories: ["o/r", "p/r"] } })).toThrow(
      /one owner/,
    );
    for (const r of ["o", "o/r/x", "o/..", "-o/r", "o/r?x"]) {
      expect(() => resolveCredentialParams(svc("github_app"), { github: { repositories: [r] } })).toThrow(bad);
    }
    expect(resolveCredentialParams(svc("github_app"), { github: { repositories: ["O/R", "o/r", "o/s"] } })).toEqual({
      github: { repositories: ["o/r", "o/s"] },
    });
    expect(resolveCredentialParams(svc("bearer"), {})).toBeNull();
  });

  it("scopes map to App permissions, always explicit, write wins over read, raw routes add none", () => {
    expect(permissionsFor(["issues:read", "contents:write", "contents:read", "GET /repos/{owner}/{repo}"])).toEqual({
      metadata: "read",
      issues: "read",
      contents: "write",
    });
    expect(permissionsFor([])).toEqual({ metadata: "read" });
  });

  it("the github template offers the github_app form", () => {
    const form = getTemplate("github")?.auth_forms?.find((f) => f.type === "github_app");
    expect(form).toMatchObject({ fields: ["app_id", "installation_id"], credential: ["private_key"] });
  });
});
