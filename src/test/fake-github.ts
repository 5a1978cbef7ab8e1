import { generateKeyPairSync, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { importSPKI, jwtVerify } from "jose";
import type { Clock } from "../core/clock.js";

/**
 * A fake GitHub API on loopback that checks what real GitHub checks for an App: the App JWT on
 * `POST /app/installations/{id}/access_tokens` is verified (RS256, the App's public key, iss = app id, exp/iat on
 * the test's clock); installation tokens are narrowed to the requested repositories and revocable with
 * `DELETE /installation/token`; repository endpoints accept only a live token covering that repository.
 * Every mint, revoke and repository request is recorded.
 */

export interface MintCall {
  token: string;
  repositories: string[];
  permissions: Record<string, string>;
}

export interface FakeGithub {
  url: string;
  appId: string;
  installationId: string;
  owner: string;
  /** PKCS#1 PEM, as GitHub hands App keys out. */
  privateKey: string;
  mints: MintCall[];
  revoked: string[];
  /** Requests to repository endpoints, with the token used. */
  repoCalls: { path: string; token: string | null }[];
  rejectedJwts: number;
  /** Installation token lifetime (ms); GitHub's is one hour. */
  tokenTtlMs: number;
  close(): Promise<void>;
}

export async function startFakeGithub(clock: Clock, owner = "octo-org"): Promise<FakeGithub> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const spki = await importSPKI(publicKey.export({ type: "spki", format: "pem" }).toString(), "RS256");
  const appId = "424242";
  const installationId = "9001";
  const live = new Map<string, { repos: Set<string>; expiresAt: number }>();
  const fake: FakeGithub = {
    url: "",
    appId,
    installationId,
    owner,
    privateKey: pem,
    mints: [],
    revoked: [],
    repoCalls: [],
    rejectedJwts: 0,
    tokenTtlMs: 3_600_000,
    close: async () => {},
  };

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  };
  const tokenOf = (req: http.IncomingMessage) => /^token (\S+)$/.exec(req.headers.authorization ?? "")?.[1] ?? null;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url ?? "/", "http://x");
        const path = url.pathname;
        if (req.method === "POST" && path === `/app/installations/${installationId}/access_tokens`) {
          const jwt = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
          try {
            await jwtVerify(jwt, spki, { algorithms: ["RS256"], issuer: appId, currentDate: new Date(clock.now()) });
          } catch {
            fake.rejectedJwts++;
            return json(res, 401, { message: "A JSON web token could not be decoded" });
          }
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as {
            repositories?: string[];
            permissions?: Record<string, string>;
          };
          const token = `ghs_FAKE${randomBytes(18).toString("hex")}`;
          const repos = (body.repositories ?? []).map((r) => `${owner}/${r}`);
          const expiresAt = clock.now() + fake.tokenTtlMs;
          live.set(token, { repos: new Set(repos.map((r) => r.toLowerCase())), expiresAt });
          fake.mints.push({ token, repositories: body.repositories ?? [], permissions: body.permissions ?? {} });
          return json(res, 201, {
            token,
            expires_at: new Date(expiresAt).toISOString(),
            permissions: body.permissions ?? {},
            repository_selection: "selected",
            repositories: repos.map((full_name) => ({ full_name, name: full_name.split("/")[1] })),
          });
        }
        if (req.method === "DELETE" && path === "/installation/token") {
          const t = tokenOf(req);
          if (!t || !live.has(t)) return json(res, 401, { message: "Bad credentials" });
          live.delete(t);
          fake.revoked.push(t);
          res.writeHead(204);
          return res.end();
        }
        const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
        if (m) {
          const t = tokenOf(req);
          fake.repoCalls.push({ path, token: t });
          const entry = t ? live.get(t) : undefined;
          if (!entry || entry.expiresAt <= clock.now()) return json(res, 401, { message: "Bad credentials" });
          if (!entry.repos.has(`${m[1]}/${m[2]}`.toLowerCase())) return json(res, 404, { message: "Not Found" });
          if (m[3] === "/issues") return json(res, 200, [{ number: 1, title: "First issue", state: "open" }]);
          // A "debug" endpoint that echoes the request, as some upstream error pages do.
          if (m[3] === "/issues/7") {
            return json(res, 200, { number: 7, title: "echo", body: `you sent ${req.headers.authorization}` });
          }
          return json(res, 404, { message: "Not Found" });
        }
        json(res, 404, { message: "Not Found" });
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return fake;
}
